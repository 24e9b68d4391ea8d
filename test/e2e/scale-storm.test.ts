// Reconnect storm (issue 13): 2,000 agents hold their push channel — the WebSocket (the
// default) and, in a second run, the /wait long-poll — the hub restarts on the same port and
// database, and every agent comes back (reconnecting after a fully jittered pause of up to
// 5 s, as src/agent/sync/push.ts does) within a bounded time, while /healthz and a signed-in
// admin page, each on a new connection, keep answering within 2 s.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { holdSockets, holdWaits, seedWaitAgents, type HeldFleet } from "../../bench/held";
import { runCli, startHub, tempDir, type Hub } from "../helpers";
import { signIn } from "../helpers/session";

setDefaultTimeout(90_000);

const bin = process.env.CERTHUB_BIN === "source" ? "source" : undefined;
const AGENTS = 2000;

let hub: Hub | undefined;
let fleet: HeldFleet | undefined;
afterEach(async () => {
  fleet?.stop();
  await hub?.stop();
  fleet = hub = undefined;
});

async function until(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await Bun.sleep(100);
  return cond();
}

async function storm(channel: "websocket" | "long-poll") {
  const dataDir = tempDir("certhub-storm-");
  hub = await startHub({ dataDir, bin });
  const created = await runCli(["keys", "create", "--title", "storm", "--json"], { dataDir, bin });
  expect(created.code).toBe(0);
  const agents = await seedWaitAgents(join(dataDir, "hub.db"), JSON.parse(created.stdout).clientId, AGENTS, "storm");
  const reconnectDelayMs = () => Math.random() * 5000;
  fleet = channel === "websocket" ? holdSockets({ port: hub.port, agents, reconnectDelayMs }) : holdWaits({ port: hub.port, agents, timeoutSeconds: 50, reconnectDelayMs });
  expect(await until(() => fleet!.holding === AGENTS, 30_000)).toBe(true);
  const session = await signIn(hub.url);

  const port = hub.port;
  await hub.stop();
  const reconnectsBefore = fleet.reconnects;
  hub = await startHub({ dataDir, bin, port });
  const upAt = Date.now();

  const slow: string[] = [];
  let probing = true;
  const url = hub.url;
  const probe = async (what: string, run: () => Promise<Response>, gapMs: number) => {
    while (probing) {
      const t = performance.now();
      try {
        const res = await run();
        await res.arrayBuffer();
        const ms = performance.now() - t;
        if (res.status !== 200 || ms > 2000) slow.push(`${what}: ${res.status} in ${ms.toFixed(0)} ms`);
      } catch (err) {
        slow.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
      await Bun.sleep(gapMs);
    }
  };
  const probes = Promise.all([
    probe("/healthz", () => fetch(`${url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(5000) }), 100),
    probe("/instances", () => session.fetch("/instances", { keepalive: false, signal: AbortSignal.timeout(5000) }), 300),
  ]);
  const back = await until(() => fleet!.holding === AGENTS, 20_000);
  const backMs = Date.now() - upAt;
  probing = false;
  await probes;
  console.log(`storm (${channel}): ${fleet.reconnects - reconnectsBefore} reconnects, all ${AGENTS} holding again ${backMs} ms after the new hub answered`);
  expect(back).toBe(true);
  expect(slow).toEqual([]);
}

describe(`reconnect storm of ${AGENTS} agents after a hub restart`, () => {
  test("on the WebSocket: all back within 20 s; /healthz and an admin page answer within 2 s meanwhile", () => storm("websocket"));
  test("on the long-poll: all back within 20 s; /healthz and an admin page answer within 2 s meanwhile", () => storm("long-poll"));
});
