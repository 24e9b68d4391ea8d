// The WebSocket push channel (GET /api/agent/v1/push) against an in-process hub with a real
// listener: signed upgrades only, a nudge at once (< 500 ms) after a queued command, at most two
// push connections per identity (sockets and waits together), and the socket of a revoked
// instance closed by the hub.
// The first frame on open answers at once: {nudge:false} when nothing is waiting.
import { describe, expect, test } from "bun:test";
import { AGENT_API_PREFIX, PUSH_CLOSE, loadPrivateKey, sha256HexOf, signRequest } from "../../../src/protocol";
import { useSignedInHub } from "../../helpers/hub-fixture";
import { FakeAgent } from "../agent-api.fixtures";

const fx = useSignedInHub();

async function joinedAgent(): Promise<FakeAgent> {
  const res = await fx.admin.json("/api/v1/tokens", "POST", { title: `key ${Math.random().toString(36).slice(2, 8)}` });
  const key = (await res.json()) as { clientId: string; secret: string };
  const a = await new FakeAgent(fx.hub.url).joined(key.clientId, key.secret);
  expect((await a.sync({ settingsVersion: 1 })).status).toBe(204);
  return a;
}

function pushHeaders(a: FakeAgent, o: { tamper?: boolean } = {}): Record<string, string> {
  const headers = signRequest(loadPrivateKey(a.keyPair.privateKeyPkcs8), {
    method: "GET",
    path: `${AGENT_API_PREFIX}/push`,
    instanceId: a.instanceId,
    time: Date.now(),
    seq: a.seq,
    bootId: a.bootId,
    bodySha256: sha256HexOf(o.tamper ? "x" : ""),
  });
  return headers;
}

const pushUrl = () => `${fx.hub.url.replace(/^http/, "ws")}${AGENT_API_PREFIX}/push?cursor=0&settingsVersion=1`;

interface Opened {
  ws: WebSocket;
  messages: { at: number; data: string }[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a socket; resolves once open, or rejects with the refusal. */
function openPush(headers: Record<string, string>): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(pushUrl(), { headers } as any);
    const messages: Opened["messages"] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.addEventListener("close", (e) => r({ code: e.code, reason: e.reason })));
    ws.addEventListener("message", (e) => messages.push({ at: performance.now(), data: String(e.data) }));
    ws.addEventListener("open", () => resolve({ ws, messages, closed }));
    ws.addEventListener("error", () => reject(new Error("upgrade refused")));
  });
}

/** The status a plain HTTP upgrade attempt gets (the WebSocket API hides it). */
async function upgradeStatus(headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${fx.hub.url}${AGENT_API_PREFIX}/push?cursor=0&settingsVersion=1`, {
    headers: { ...headers, Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": btoa("0123456789abcdef") },
  });
  await res.arrayBuffer().catch(() => {});
  return res.status;
}

describe("WebSocket push channel", () => {
  test("an unsigned or wrongly signed upgrade is refused with 401 and holds nothing", async () => {
    const a = await joinedAgent();
    expect(await upgradeStatus({})).toBe(401);
    expect(await upgradeStatus(pushHeaders(a, { tamper: true }))).toBe(401);
    await expect(openPush({})).rejects.toThrow("upgrade refused");
    expect(fx.hub.deps.fleet.push.socketsOf(a.instanceId)).toBe(0);
  });

  test("a queued command nudges the socket at once (< 500 ms, including the admin request that queues it)", async () => {
    const a = await joinedAgent();
    const s = await openPush(pushHeaders(a));
    const metrics = await (await fetch(`${fx.hub.url}/metrics`)).text();
    expect(Number(metrics.match(/^certhub_agent_push_sockets (\d+)/m)?.[1])).toBeGreaterThanOrEqual(1);
    await Bun.sleep(100);
    // The one frame on open says the channel works; nothing is waiting yet.
    expect(s.messages.map((m) => JSON.parse(m.data))).toEqual([{ nudge: false }]);
    s.messages.length = 0;
    const queued = performance.now();
    expect((await fx.admin.json(`/api/v1/instances/${a.instanceId}/commands`, "POST", { type: "ping" })).status).toBeLessThan(300);
    for (let i = 0; i < 100 && !s.messages.length; i++) await Bun.sleep(5);
    expect(s.messages.map((m) => JSON.parse(m.data))).toEqual([{ nudge: true }]);
    // Typically 5-20 ms; the bound leaves room for a loaded CI machine and still says "at once"
    // (the promise is < 2 s; without the socket an agent would hear of it at its next sync).
    expect(s.messages[0]!.at - queued).toBeLessThan(500);
    // Once the agent says it has the command, nothing more is waiting and no nudge follows.
    s.ws.send(JSON.stringify({ cursor: 1, settingsVersion: 1 }));
    await Bun.sleep(100);
    expect(s.messages.length).toBe(1);
    s.ws.close();
  });

  test("one identity holds at most two sockets: a third is refused", async () => {
    const a = await joinedAgent();
    const first = await openPush(pushHeaders(a));
    const second = await openPush(pushHeaders(a));
    expect(await upgradeStatus(pushHeaders(a))).toBe(429);
    await expect(openPush(pushHeaders(a))).rejects.toThrow("upgrade refused");
    expect(fx.hub.deps.fleet.push.socketsOf(a.instanceId)).toBe(2);
    first.ws.close();
    await first.closed;
    for (let i = 0; i < 50 && fx.hub.deps.fleet.push.socketsOf(a.instanceId) > 1; i++) await Bun.sleep(10);
    const third = await openPush(pushHeaders(a)); // room again once one is closed
    second.ws.close();
    third.ws.close();
  });

  test("one cap across both kinds: two sockets leave no room for a wait; a socket replaces the oldest wait", async () => {
    const push = fx.hub.deps.fleet.push;
    const a = await joinedAgent();
    const first = await openPush(pushHeaders(a));
    const second = await openPush(pushHeaders(a));
    // Two sockets held: a long-poll of the same identity is refused, not held beside them.
    const refused = await a.send("wait", { cursor: 0, settingsVersion: 1, timeoutSeconds: 30 });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(push.has(a.instanceId)).toBe(false);
    first.ws.close();
    second.ws.close();
    await Promise.all([first.closed, second.closed]);
    for (let i = 0; i < 50 && push.socketsOf(a.instanceId) > 0; i++) await Bun.sleep(10);

    // Two waits held: a socket takes the oldest wait's place (it answers {nudge:false}).
    const waits = [0, 1].map(() => a.send("wait", { cursor: 0, settingsVersion: 1, timeoutSeconds: 30 }));
    for (let i = 0; i < 100 && !(push.has(a.instanceId) && push.size >= 2); i++) await Bun.sleep(10);
    const s = await openPush(pushHeaders(a));
    const ended = await Promise.race([waits[0]!, Bun.sleep(2000).then(() => null)]);
    expect(ended?.status).toBe(200);
    expect(await ended!.json()).toEqual({ nudge: false });
    expect(push.socketsOf(a.instanceId)).toBe(1);
    expect(push.has(a.instanceId)).toBe(true); // the newer wait stays: two connections in all
    const t = await openPush(pushHeaders(a)); // and the next socket replaces that one
    expect(await (await waits[1]!).json()).toEqual({ nudge: false });
    expect(push.socketsOf(a.instanceId)).toBe(2);
    expect(push.has(a.instanceId)).toBe(false);
    s.ws.close();
    t.ws.close();
  });

  test("revoking the instance closes its socket; the revoked agent cannot reconnect", async () => {
    const a = await joinedAgent();
    const s = await openPush(pushHeaders(a));
    await Bun.sleep(50);
    const started = performance.now();
    expect((await fx.admin.fetch(`/api/v1/instances/${a.instanceId}/revoke`, { method: "POST" })).status).toBe(200);
    const closed = await Promise.race([s.closed, Bun.sleep(2000).then(() => null)]);
    expect(closed).toEqual({ code: PUSH_CLOSE.cutOff, reason: "revoked" });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await upgradeStatus(pushHeaders(a))).toBe(403);
  });

  test("while descriptors run short a new socket gets 503 with Retry-After", async () => {
    const a = await joinedAgent();
    fx.hub.deps.fleet.push.shedding = true;
    try {
      const res = await fetch(`${fx.hub.url}${AGENT_API_PREFIX}/push?cursor=0&settingsVersion=1`, {
        headers: { ...pushHeaders(a), Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": btoa("0123456789abcdef") },
      });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      fx.hub.deps.fleet.push.shedding = false;
    }
  });

  test("while descriptors run short, push requests are refused before they queue or are verified: every one holds a descriptor until answered", async () => {
    // Unsigned on purpose: normally 401 after the admission queue and the signature check;
    // short of descriptors the answer is the same for anyone, so it comes first.
    const upgrade = { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": btoa("0123456789abcdef") };
    const body = JSON.stringify({ cursor: 0, settingsVersion: 1 });
    const unsigned = () => [
      fetch(`${fx.hub.url}${AGENT_API_PREFIX}/push?cursor=0&settingsVersion=1`, { headers: upgrade }),
      fetch(`${fx.hub.url}${AGENT_API_PREFIX}/wait`, { method: "POST", headers: { "Content-Type": "application/json" }, body }),
    ];
    const normal = await Promise.all(unsigned());
    expect(normal.map((r) => r.status)).toEqual([401, 401]);
    fx.hub.deps.fleet.push.shedding = true;
    try {
      const shed = await Promise.all(unsigned());
      for (const res of shed) {
        expect(res.status).toBe(503);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(15);
        expect(res.headers.get("connection")).toBe("close");
        expect(await res.json()).toMatchObject({ code: "rate-limited" });
      }
      const metrics = await (await fetch(`${fx.hub.url}/metrics`)).text();
      expect(metrics).toMatch(/certhub_agent_requests_total\{[^}]*endpoint="push"[^}]*status="503"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/certhub_agent_requests_total\{[^}]*endpoint="wait"[^}]*status="503"[^}]*\} [1-9]/);
    } finally {
      fx.hub.deps.fleet.push.shedding = false;
    }
  });
});
