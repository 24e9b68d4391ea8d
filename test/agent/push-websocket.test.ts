// The agent's push channel: a real agent against an in-process hub holds the WebSocket
// (/push) and gets commands through it; behind a proxy that refuses upgrades it falls back to
// the long-poll (/wait) and still gets commands pushed.
import { describe, expect, test } from "bun:test";
import { getCommand } from "../../src/db/commands";
import { until as pollUntil } from "../helpers/poll";
import { loopbackProxy, useHubWithAgents } from "../helpers/agents";

const fx = useHubWithAgents();
const { agents } = fx;
const logs: string[] = [];
const joinedAgent = (url: string) => fx.joinedAgent({ url, log: (m) => logs.push(m) });

/** Every 10 ms: the push tests time how soon a change reaches the agent. */
const until = <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000) => pollUntil(what, check, timeoutMs, 10);

/** Queues a ping and returns how long until its result was stored in the hub. */
async function pingRoundTrip(instanceId: string): Promise<number> {
  const started = performance.now();
  const res = await fx.admin.json(`/api/v1/instances/${instanceId}/commands`, "POST", { type: "ping", payload: {} });
  expect(res.status).toBe(202);
  const { commandId } = await res.json();
  const done = await until("ping done", async () => {
    const c = await getCommand(fx.hub.deps.db, commandId);
    return c?.status === "succeeded" ? c : undefined;
  });
  expect(done.status).toBe("succeeded");
  return performance.now() - started;
}

describe("agent push channel", () => {
  test("a joined agent holds the WebSocket (no long-poll) and commands arrive through it", async () => {
    const { instanceId } = await joinedAgent(fx.hub.url);
    const push = fx.hub.deps.fleet.push;
    await until("WebSocket held", () => push.socketsOf(instanceId) === 1);
    expect(push.has(instanceId)).toBe(false); // no long-poll beside it
    // The sync interval is a minute: a result within 2 s came by push.
    for (let i = 0; i < 5; i++) expect(await pingRoundTrip(instanceId)).toBeLessThan(2000);
    expect(push.socketsOf(instanceId)).toBe(1);
    expect(push.has(instanceId)).toBe(false);
  });

  test("behind a proxy that refuses upgrades the agent falls back to the long-poll and still gets pushes", async () => {
    let refusedUpgrades = 0;
    const proxy = loopbackProxy(
      () => fx.hub.url,
      (req) => {
        if (!req.headers.get("upgrade")) return undefined;
        refusedUpgrades++;
        return new Response("upgrades are not allowed here", { status: 502 });
      },
    );
    try {
      const { instanceId } = await joinedAgent(proxy.url);
      const push = fx.hub.deps.fleet.push;
      await until("long-poll held", () => push.has(instanceId));
      expect(refusedUpgrades).toBeGreaterThanOrEqual(1);
      expect(push.socketsOf(instanceId)).toBe(0);
      for (let i = 0; i < 3; i++) expect(await pingRoundTrip(instanceId)).toBeLessThan(2000);
      expect(logs.some((l) => /push WebSocket could not be opened; using the long-poll/.test(l))).toBe(true);
    } finally {
      for (const a of agents.splice(1)) await a.stop().catch(() => {});
      proxy.stop();
    }
  });

  test("revoking the instance closes its WebSocket and the agent shows access revoked at once", async () => {
    const { agent, instanceId } = await joinedAgent(fx.hub.url);
    await until("WebSocket held", () => fx.hub.deps.fleet.push.socketsOf(instanceId) === 1);
    expect((await fx.admin.fetch(`/api/v1/instances/${instanceId}/revoke`, { method: "POST" })).status).toBe(200);
    await until("revoked on the agent", async () => (await agent.status()).accessRevoked === true, 2000);
    await until("socket gone", () => fx.hub.deps.fleet.push.socketsOf(instanceId) === 0, 2000);
  });
});
