// What a held long-poll (/wait) keeps in the hub's memory: the wait itself, not the request's
// middleware chain (agent-api/deferred.ts). Held inside the chain, every wait kept ~24 async
// frames alive (~12 KiB of JS heap each). Waits are real signed requests on raw sockets
// (bench/held.ts) against an in-process hub with a real listener, so the heap counted is the
// hub's (plus the few objects per connection of the client, which runs in this process too).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { join } from "node:path";
import { holdWaits, seedWaitAgents, type HeldFleet } from "../../../bench/held";
import { signIn, startTestHub, type TestHub } from "../../helpers/session";
import { createJoiningKey } from "../joining-keys.fixtures";

const N = 300;
let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.stop());

function asyncFrames(): number {
  Bun.gc(true);
  return heapStats().objectTypeCounts.AsyncFunctionGenerator ?? 0;
}

describe("held long-polls", () => {
  test("a held wait keeps no middleware frames: a few async frames per wait, not dozens", async () => {
    const admin = await signIn(hub.url);
    const { clientId } = await createJoiningKey(admin);
    const agents = await seedWaitAgents(join(hub.dataDir, "hub.db"), clientId, N);
    const port = Number(new URL(hub.url).port);
    const before = asyncFrames();
    let fleet: HeldFleet | undefined;
    try {
      fleet = holdWaits({ port, agents, timeoutSeconds: 50, spreadFirst: false });
      for (let i = 0; i < 200 && hub.deps.fleet.push.size < N; i++) await Bun.sleep(50);
      expect(hub.deps.fleet.push.size).toBe(N);
      const perWait = (asyncFrames() - before) / N;
      // Client side: one loop per connection. Hub side, held in the chain: ~24 per wait.
      expect(perWait).toBeLessThan(4);
      // Still answered: a queued command wakes its agent's wait with {nudge:true} (this client
      // re-polls with its old cursor, so it may be told more than once).
      const nudgedBefore = fleet.nudges;
      expect((await admin.json(`/api/v1/instances/${agents[0]!.id}/commands`, "POST", { type: "ping" })).status).toBeLessThan(300);
      for (let i = 0; i < 100 && fleet.nudges === nudgedBefore; i++) await Bun.sleep(10);
      expect(fleet.nudges).toBeGreaterThan(nudgedBefore);
    } finally {
      fleet?.stop();
    }
  });
});
