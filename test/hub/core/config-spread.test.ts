// A config change for many instances wakes their agents spread over a window (10 ms per
// instance, at most 60 s: src/hub/fleet/nudge-spread.ts), so a fleet does not sync in the same
// second; a change for one instance wakes its agent at once. The agents hold real signed
// long-polls (/wait) against an in-process hub.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SPREAD_MS_PER_INSTANCE } from "../../../src/hub/fleet/nudge-spread";
import { until } from "../../helpers/poll";
import type { FakeAgent } from "../agent-api.fixtures";
import { addInstance, call, startWorld, type World } from "./fixtures";

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.hub.stop());

const N = 200;

/** Holds a wait for the agent; resolves with when (performance.now()) and what it answered. */
async function hold(agent: FakeAgent, settingsVersion: number): Promise<{ at: number; nudge: boolean }> {
  const res = await agent.send("wait", { cursor: 0, settingsVersion, timeoutSeconds: 30 });
  const body = (await res.json()) as { nudge?: boolean };
  return { at: performance.now(), nudge: res.status === 200 && body.nudge === true };
}

describe("spread wake-up", () => {
  test(`a global change reaches ${N} held agents spread over the window; a one-instance change at once`, async () => {
    const agents: FakeAgent[] = [];
    for (let i = 0; i < N; i++) agents.push(await addInstance(w, { group: "spread" }));
    const answers = agents.map((a) => hold(a, 1));
    await until(`${N} held waits`, () => w.hub.deps.fleet.push.size === N, 10_000);

    const changedAt = performance.now();
    const put = await call(w.admin, "PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "global", value: 72 });
    expect(put.status).toBe(200);
    const got = await Promise.all(answers);
    expect(got.every((g) => g.nudge)).toBe(true);
    const after = got.map((g) => g.at - changedAt).sort((a, b) => a - b);
    const windowMs = N * SPREAD_MS_PER_INSTANCE; // 2 s for 200
    const inFirstSecond = after.filter((ms) => ms < 1000).length;
    console.log(
      `${N} agents nudged from ${after[0].toFixed(0)} to ${after[N - 1].toFixed(0)} ms after the change ` +
        `(window ${windowMs} ms); ${inFirstSecond} in the first second`,
    );
    expect(after[0]).toBeLessThan(500); // the first at once
    expect(inFirstSecond).toBeLessThan(N * 0.75); // not all together: about half in the first of 2 s
    expect(after[N - 1]).toBeGreaterThan(windowMs * 0.75); // the last near the end of the window...
    expect(after[N - 1]).toBeLessThan(windowMs + 1500); // ...and not much later

    // One instance: its agent is woken at once, even though it is one of the many.
    const one = agents[7];
    const answer = hold(one, 2);
    await until("the wait held", () => w.hub.deps.fleet.push.has(one.instanceId));
    const t = performance.now();
    expect((await call(w.admin, "PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "instance", scopeId: one.instanceId, value: 55 })).status).toBe(200);
    const woke = await answer;
    expect(woke.nudge).toBe(true);
    console.log(`one-instance change → its agent nudged in ${(woke.at - t).toFixed(0)} ms`);
    expect(woke.at - t).toBeLessThan(300);
  });
});
