// The agent honours the hub's Retry-After on 503/429 (issue 13): a real agent against a real
// in-process hub, through a loopback proxy that answers chosen requests with 503/429 and a
// Retry-After (a hub answers 503 only while its descriptors run short, which a test cannot
// bring about exactly when it wants). Every request the agent makes is recorded with its
// arrival time, so "not before the Retry-After" is checked on the wire.
import { describe, expect, test } from "bun:test";
import { getCommand } from "../../../src/db/commands";
import { until } from "../../helpers/poll";
import { loopbackProxy, useHubWithAgents } from "../../helpers/agents";

const fx = useHubWithAgents();

type Endpoint = "join" | "sync" | "wait" | "push";
interface Seen {
  endpoint: Endpoint;
  at: number;
  /** What the proxy answered itself (0: passed to the hub). */
  answered: number;
  retryAfter?: string;
}
interface Refusal {
  endpoint: Endpoint;
  status: 503 | 429;
  retryAfter: () => string;
  times: number;
}

/** A proxy in front of the hub: refuses what `refuse` lists, refuses every WebSocket upgrade not listed with 502 (so the agent long-polls), passes the rest. */
function refusingProxy() {
  const seen: Seen[] = [];
  const refusals: Refusal[] = [];
  const proxy = loopbackProxy(
    () => fx.hub.url,
    (req, u) => {
      const endpoint = u.pathname.split("/").pop() as Endpoint;
      const at = Date.now();
      const rule = refusals.find((r) => r.endpoint === endpoint && r.times > 0);
      if (rule) {
        rule.times--;
        const retryAfter = rule.retryAfter();
        seen.push({ endpoint, at, answered: rule.status, retryAfter });
        return Response.json({ error: "the hub is busy", code: "rate-limited" }, { status: rule.status, headers: { "Retry-After": retryAfter, Connection: "close" } });
      }
      if (req.headers.get("upgrade")) {
        seen.push({ endpoint, at, answered: 502 });
        return new Response("upgrades are not passed here", { status: 502 });
      }
      seen.push({ endpoint, at, answered: 0 });
      return undefined;
    },
  );
  return {
    url: proxy.url,
    seen,
    refuse: (r: Refusal) => refusals.push(r),
    of: (endpoint: Endpoint) => seen.filter((s) => s.endpoint === endpoint),
    stop: proxy.stop,
  };
}

const said = (logs: string[], re: RegExp) => logs.filter((l) => re.test(l)).length;

describe("the agent honours the hub's Retry-After", () => {
  test("push WebSocket upgrade refused with 503 + Retry-After: no retry before it, no long-poll meanwhile, said once", async () => {
    const proxy = refusingProxy();
    const logs: string[] = [];
    try {
      proxy.refuse({ endpoint: "push", status: 503, retryAfter: () => "2", times: 3 });
      await fx.joinedAgent({ url: proxy.url, log: (m) => logs.push(m) });
      // Three refused upgrades, then a 502 (a proxy that breaks upgrades): the long-poll.
      await until("the fourth upgrade attempt", () => proxy.of("push").length >= 4, 20_000, 50);
      const pushes = proxy.of("push");
      for (let i = 1; i < 4; i++) expect(pushes[i].at - pushes[i - 1].at).toBeGreaterThanOrEqual(2000);
      // Busy is not "this proxy breaks upgrades": no long-poll until the WebSocket failed otherwise.
      // By arrival order, not clock: the first wait can arrive in the 502's millisecond.
      expect(proxy.of("wait").every((w) => proxy.seen.indexOf(w) > proxy.seen.indexOf(pushes[3]))).toBe(true);
      await until("long-poll after the 502", () => proxy.of("wait").length >= 1, 5000, 50);
      expect(said(logs, /answered 503 to the push channel and asked to retry in 2 s/)).toBe(1);
    } finally {
      proxy.stop();
    }
  }, 30_000);

  test("/wait refused with 503 and an HTTP-date Retry-After: the next wait not before that date, said once", async () => {
    const proxy = refusingProxy();
    const logs: string[] = [];
    try {
      const { instanceId } = await fx.joinedAgent({ url: proxy.url, log: (m) => logs.push(m) });
      await until("long-poll held", () => fx.hub.deps.fleet.push.has(instanceId), 5000, 20);
      // The held wait answers (a nudge); the next two are refused.
      proxy.refuse({ endpoint: "wait", status: 503, retryAfter: () => new Date(Date.now() + 3000).toUTCString(), times: 2 });
      fx.hub.deps.fleet.push.notify(instanceId);
      await until("a wait passed again", () => proxy.of("wait").filter((w) => w.answered === 0).length >= 2 && proxy.of("wait").length >= 4, 20_000, 50);
      const waits = proxy.of("wait");
      const refused = waits.filter((w) => w.answered === 503);
      expect(refused).toHaveLength(2);
      for (const r of refused) {
        const next = waits[waits.indexOf(r) + 1];
        expect(next.at).toBeGreaterThanOrEqual(Date.parse(r.retryAfter!) - 5);
      }
      expect(said(logs, /answered 503 to the push channel/)).toBe(1);
    } finally {
      proxy.stop();
    }
  }, 30_000);

  test("/sync refused with 503 + Retry-After: nudges do not bring the next sync earlier; the command runs after it", async () => {
    const proxy = refusingProxy();
    const logs: string[] = [];
    try {
      const { instanceId } = await fx.joinedAgent({ url: proxy.url, log: (m) => logs.push(m) });
      await until("long-poll held", () => fx.hub.deps.fleet.push.has(instanceId), 5000, 20);
      proxy.refuse({ endpoint: "sync", status: 503, retryAfter: () => "2", times: 1 });
      const before = proxy.of("sync").length;
      // The queued command nudges the agent (and keeps nudging: it waits until synced).
      const res = await fx.admin.json(`/api/v1/instances/${instanceId}/commands`, "POST", { type: "ping", payload: {} });
      expect(res.status).toBe(202);
      const { commandId } = await res.json();
      await until("ping done", async () => (await getCommand(fx.hub.deps.db, commandId))?.status === "succeeded", 15_000, 50);
      const syncs = proxy.of("sync").slice(before);
      expect(syncs[0].answered).toBe(503);
      expect(syncs[1].at - syncs[0].at).toBeGreaterThanOrEqual(2000);
      expect(said(logs, /answered 503 to the sync and asked to retry in 2 s/)).toBe(1);
    } finally {
      proxy.stop();
    }
  }, 30_000);

  test("join answered 429 + Retry-After: retried once, not before it; a long one is reported at once", async () => {
    const proxy = refusingProxy();
    const logs: string[] = [];
    try {
      const key = await fx.newKey({ title: "join-429" });
      proxy.refuse({ endpoint: "join", status: 429, retryAfter: () => "1", times: 1 });
      const agent = await fx.newAgent({ log: (m) => logs.push(m) });
      const r = await agent.join({ url: proxy.url, clientId: key.clientId, secret: key.secret, fingerprint: null });
      expect(r.instanceId).toBeTruthy();
      const joins = proxy.of("join");
      expect(joins.map((j) => j.answered)).toEqual([429, 0]);
      expect(joins[1].at - joins[0].at).toBeGreaterThanOrEqual(1000);

      proxy.refuse({ endpoint: "join", status: 429, retryAfter: () => "120", times: 1 });
      const other = await fx.newAgent({ log: (m) => logs.push(m) });
      const started = Date.now();
      const err = await other.join({ url: proxy.url, clientId: key.clientId, secret: key.secret, fingerprint: null }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message ?? "").toContain("retry in 120 s");
      expect(Date.now() - started).toBeLessThan(5000);
      expect(proxy.of("join")).toHaveLength(3);
    } finally {
      proxy.stop();
    }
  }, 30_000);
});
