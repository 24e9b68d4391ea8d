// Reconnect storm (issue 13): 2,000 agents hold their push channel, the hub restarts on the
// same port and database, and every agent comes back (re-polling after a fully jittered pause
// of up to 5 s, as src/agent/sync/push.ts does) within a bounded time, while /healthz and a
// signed-in admin page keep answering within 2 s.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { holdWaits, seedWaitAgents, type HeldFleet } from "../../bench/held";
import { runCli, startHub, tempDir, type Hub } from "../helpers";
import { signIn } from "../helpers/session";

setDefaultTimeout(180_000);

const bin = process.env.CERTHUB_BIN === "source" ? "source" : undefined;
const AGENTS = 2000;

let hub: Hub | undefined;
let fleet: HeldFleet | undefined;
afterAll(async () => {
  fleet?.stop();
  await hub?.stop();
});

async function until(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await Bun.sleep(100);
  return cond();
}

test(`${AGENTS} agents holding waits are all back within 30 s of a hub restart; pages answer meanwhile`, async () => {
  const dataDir = tempDir("certhub-storm-");
  hub = await startHub({ dataDir, bin });
  const created = await runCli(["keys", "create", "--title", "storm", "--json"], { dataDir, bin });
  expect(created.code).toBe(0);
  const agents = await seedWaitAgents(join(dataDir, "hub.db"), JSON.parse(created.stdout).clientId, AGENTS, "storm");
  fleet = holdWaits({ port: hub.port, agents, timeoutSeconds: 50, reconnectDelayMs: () => Math.random() * 5000 });
  expect(await until(() => fleet!.holding === AGENTS, 60_000)).toBe(true);
  const session = await signIn(hub.url);

  const port = hub.port;
  await hub.stop();
  const reconnectsBefore = fleet.reconnects;
  hub = await startHub({ dataDir, bin, port });
  const upAt = Date.now();

  const slow: string[] = [];
  let probing = true;
  const probes = (async () => {
    while (probing) {
      for (const [what, run] of [
        ["/healthz", () => fetch(`${hub!.url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(5000) })],
        ["/instances", () => session.fetch("/instances", { keepalive: false, signal: AbortSignal.timeout(5000) })],
      ] as const) {
        const t = performance.now();
        try {
          const res = await run();
          await res.arrayBuffer();
          const ms = performance.now() - t;
          if (res.status !== 200 || ms > 2000) slow.push(`${what}: ${res.status} in ${ms.toFixed(0)} ms`);
        } catch (err) {
          slow.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      await Bun.sleep(300);
    }
  })();
  const back = await until(() => fleet!.holding === AGENTS, 30_000);
  const backMs = Date.now() - upAt;
  probing = false;
  await probes;
  console.log(`storm: ${fleet.reconnects - reconnectsBefore} reconnects, all ${AGENTS} waiting again ${backMs} ms after the new hub answered`);
  expect(back).toBe(true);
  expect(slow).toEqual([]);
});
