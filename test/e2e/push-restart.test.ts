// The push WebSocket across a hub restart, end to end with the compiled binaries: an agent
// whose WebSocket reconnect finds the hub down (connection refused: no HTTP answer at all)
// keeps trying the WebSocket and is back on it once the hub is, never demoted to the
// long-poll meanwhile (it was, for up to a minute and ~10 KiB of hub memory per agent more
// than the WebSocket: 10-16 % of a 5,000-agent fleet in the reconnect-storm bench).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { runCli, startHub, tempDir, type Hub } from "../helpers";
import { startAgent, until, type RunningAgent } from "./agents.fixtures";

let hubDir: string;
let hub: Hub;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  hubDir = tempDir("certhub-e2e-push-restart-");
  hub = await startHub({ dataDir: hubDir });
});

afterAll(async () => {
  await agent?.stop().catch(() => {});
  await hub?.stop();
});

/** A metric's value summed over the series whose labels contain `labels` (0 when absent). */
async function metric(name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

test("an agent whose WebSocket reconnect finds the hub down is back on the WebSocket after the restart, with no long-poll meanwhile", async () => {
  const created = await runCli(["keys", "create", "--title", "restart", "--json"], { dataDir: hubDir });
  expect(created.code).toBe(0);
  const key = JSON.parse(created.stdout) as { clientId: string; secret: string };
  agent = await startAgent({ dataDir: tempDir("certhub-e2e-agent-") });
  const joined = await agent.api("/api/system/hub/join", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ clientId: key.clientId, secret: key.secret, url: hub.url }),
  });
  expect(joined.status).toBe(200);
  await until("the push WebSocket is held", async () => (await metric("certhub_agent_push_sockets")) === 1, 15_000, 100);

  // Down longer than the agent's 0-5 s pause before it reconnects: its first attempts are refused.
  await hub.stop();
  await Bun.sleep(7000);
  hub = await startHub({ dataDir: hubDir, port: hub.port });

  const backAfter = performance.now();
  await until("the agent back on the push WebSocket", async () => (await metric("certhub_agent_push_sockets")) === 1, 45_000, 100).catch((err) => {
    throw new Error(`${err.message}\n${agent!.output()}`);
  });
  console.log(`back on the WebSocket ${Math.round(performance.now() - backAfter)} ms after the hub answered again`);
  await Bun.sleep(1000); // a long-poll started alongside would have arrived by now
  expect(await metric("certhub_agent_requests_total", 'endpoint="wait"')).toBe(0);
  expect(await metric("certhub_agent_waiters")).toBe(0);
  expect(agent.output()).not.toContain("using the long-poll");
}, 90_000);
