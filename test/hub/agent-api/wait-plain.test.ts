// The signed /wait served before Hono (agent-api/wait.ts, routed by server.ts): every check of
// a signed agent request still applies on that path, and its answers are the Hono route's, byte
// for byte. Each test asserts the request really took the plain path (plainWaitsServed), so a
// check skipped there fails here even though the Hono route would still refuse.
import { describe, expect, test } from "bun:test";
import { AGENT_API_PREFIX, generateInstanceKeyPair, loadPrivateKey, sha256HexOf, signRequest, signedPath } from "../../../src/protocol";
import { plainWaitsServed } from "../../../src/hub/agent-api/wait";
import { useSignedInHub } from "../../helpers/hub-fixture";
import { FakeAgent } from "../agent-api.fixtures";
import { createJoiningKey } from "../joining-keys.fixtures";

const fx = useSignedInHub();

async function joinedAgent(): Promise<FakeAgent> {
  const key = await createJoiningKey(fx.admin);
  return new FakeAgent(fx.hub.url).joined(key.clientId, key.secret);
}

const WAIT = { cursor: 0, settingsVersion: 1, timeoutSeconds: 1 };

/** Sends a wait and checks it was served on the plain path; the answer with its JSON body. */
async function plainWait(agent: FakeAgent, body: unknown, o: Parameters<FakeAgent["send"]>[2] = {}) {
  const before = plainWaitsServed();
  const res = await agent.send("wait", body, o);
  const json = (await res.json()) as Record<string, unknown>;
  expect(plainWaitsServed()).toBeGreaterThan(before); // (waits of one test may overlap)
  return { res, json };
}

/** Status, headers (sorted; without Date and Content-Length, which the server adds on the wire) and body of an answer, for comparing two answers. */
async function wire(res: Response, body?: string) {
  const headers = [...res.headers].filter(([k]) => k !== "date" && k !== "content-length").sort(([a], [b]) => a.localeCompare(b));
  return { status: res.status, headers, body: body ?? (await res.text()) };
}

describe("signed waits served before Hono", () => {
  test("an agent's wait is held on the plain path and answered {nudge:false} after its timeout, nudged at once when something waits", async () => {
    const agent = await joinedAgent();
    const t = performance.now();
    const { res, json } = await plainWait(agent, WAIT);
    expect(res.status).toBe(200);
    expect(json).toEqual({ nudge: false });
    expect(performance.now() - t).toBeGreaterThan(900);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    // A command queued while the wait is held answers it at once.
    const held = plainWait(agent, { ...WAIT, timeoutSeconds: 20 });
    for (let i = 0; i < 100 && !fx.hub.deps.fleet.push.has(agent.instanceId); i++) await Bun.sleep(10);
    expect((await fx.admin.json(`/api/v1/instances/${agent.instanceId}/commands`, "POST", { type: "ping" })).status).toBeLessThan(300);
    const nudged = await held;
    expect(nudged.res.status).toBe(200);
    expect(nudged.json).toEqual({ nudge: true });
  });

  test("a bad signature, a body changed after signing, another key, a stale clock and an unknown instance are refused and hold nothing", async () => {
    const agent = await joinedAgent();
    const cases: [Parameters<FakeAgent["send"]>[2], number, string][] = [
      [{ headers: { "x-certhub-signature": "A".repeat(86) } }, 401, "bad-signature"],
      [{ rawBody: JSON.stringify(WAIT), headers: {} }, 200, ""], // control: the same request signed right
      [{ keyPair: generateInstanceKeyPair() }, 401, "bad-signature"],
      [{ time: Date.now() - 3_600_000 }, 401, "clock-skew"],
      [{ instanceId: "i_unknownunknownunknown0" }, 401, "instance-unknown"],
      [{ headers: { "x-certhub-instance": "" } }, 401, "bad-signature"],
    ];
    for (const [o, status, code] of cases) {
      const { res, json } = await plainWait(agent, WAIT, o);
      expect({ status: res.status, code: json.code }).toEqual({ status, code: code || undefined });
    }
    // The body is covered by the signature: the same headers with another body are refused.
    const signedFor = JSON.stringify(WAIT);
    const tampered = await tamperedWait(agent, signedFor, JSON.stringify({ ...WAIT, timeoutSeconds: 55 }));
    expect(tampered.status).toBe(401);
    expect(fx.hub.deps.fleet.push.has(agent.instanceId)).toBe(false);
  });

  test("a revoked instance, a revoked joining key and a retired (reset) key are refused on the plain path", async () => {
    const revokedInstance = await joinedAgent();
    expect((await fx.admin.fetch(`/api/v1/instances/${revokedInstance.instanceId}/revoke`, { method: "POST" })).status).toBeLessThan(300);
    const a = await plainWait(revokedInstance, WAIT);
    expect({ status: a.res.status, code: a.json.code }).toEqual({ status: 403, code: "instance-revoked" });

    const key = await createJoiningKey(fx.admin);
    const keyAgent = await new FakeAgent(fx.hub.url).joined(key.clientId, key.secret);
    expect((await fx.admin.fetch(`/api/v1/tokens/${key.clientId}/revoke`, { method: "POST" })).status).toBeLessThan(300);
    const b = await plainWait(keyAgent, WAIT);
    expect({ status: b.res.status, code: b.json.code }).toEqual({ status: 403, code: "key-revoked" });

    const reset = await joinedAgent();
    const newKey = generateInstanceKeyPair();
    await fx.hub.deps.fleet.updateInstance(reset.instanceId, { publicKey: newKey.publicKey, retiredPublicKey: reset.keyPair.publicKey });
    const c = await plainWait(reset, WAIT);
    expect({ status: c.res.status, code: c.json.code }).toEqual({ status: 409, code: "rekey-required" });
    // The new key is accepted.
    const d = await plainWait(reset, WAIT, { keyPair: newKey });
    expect(d.res.status).toBe(200);
  });

  test("bad bodies are refused as by the Hono route: not JSON, not UTF-8, outside the schema", async () => {
    const agent = await joinedAgent();
    for (const [rawBody, message] of [
      ["nope", "request body is not valid JSON"],
      ["\xff\xfe", "request body is not"],
      [JSON.stringify({ cursor: -1, settingsVersion: 1 }), "invalid request: cursor"],
    ] as const) {
      const { res, json } = await plainWait(agent, null, { rawBody });
      expect(res.status).toBe(400);
      expect(String(json.error)).toContain(message);
    }
  });

  test("one identity holds at most two push connections: a third wait replaces the oldest; beside two WebSockets a wait gets 429", async () => {
    const agent = await joinedAgent();
    const heldBefore = fx.hub.deps.fleet.push.size;
    const first = plainWait(agent, { ...WAIT, timeoutSeconds: 30 });
    const second = plainWait(agent, { ...WAIT, timeoutSeconds: 30 });
    for (let i = 0; i < 200 && fx.hub.deps.fleet.push.size < heldBefore + 2; i++) await Bun.sleep(10);
    expect(fx.hub.deps.fleet.push.size).toBe(heldBefore + 2);
    const third = plainWait(agent, { ...WAIT, timeoutSeconds: 1 });
    // The oldest is answered at once, without a nudge.
    const t = performance.now();
    const answered = await Promise.race([first.then(() => "first"), second.then(() => "second")]);
    expect(answered).toBe("first");
    expect(performance.now() - t).toBeLessThan(5_000);
    expect((await first).json).toEqual({ nudge: false });
    await third;
    await fx.admin.json(`/api/v1/instances/${agent.instanceId}/commands`, "POST", { type: "ping" });
    expect((await second).json).toEqual({ nudge: true });

    const sockets = [0, 1].map(() => pushSocket(agent));
    await Promise.all(sockets.map((s) => s.opened));
    const refused = await plainWait(agent, WAIT);
    expect(refused.res.status).toBe(429);
    expect(refused.res.headers.get("retry-after")).toBe("60");
    for (const s of sockets) s.ws.close();
  });

  test("answers are the Hono route's, byte for byte (status, headers, body)", async () => {
    const agent = await joinedAgent();
    const revoked = await joinedAgent();
    await fx.admin.fetch(`/api/v1/instances/${revoked.instanceId}/revoke`, { method: "POST" });
    // Refusals: in-process requests (fx.hub.app.request) always go through Hono; the same signed
    // request over the listener takes the plain path.
    for (const [a, body, o] of [
      [agent, WAIT, { headers: { "x-certhub-signature": "A".repeat(86) } }],
      [agent, WAIT, { time: Date.now() - 3_600_000 }],
      [agent, null, { rawBody: "nope" }],
      [agent, null, { rawBody: JSON.stringify({ cursor: 0 }) }],
      [revoked, WAIT, {}],
      [revoked, WAIT, { headers: { authorization: "Bearer x" } }],
      [revoked, WAIT, { headers: { cookie: "certhub_session=abc" } }],
    ] as [FakeAgent, unknown, Parameters<FakeAgent["send"]>[2]][]) {
      const { plain, hono } = await sendBoth(a, body, o);
      expect(await wire(plain)).toEqual(await wire(hono));
    }
    // A held wait's answer: the headers the deferred Hono answer had (recorded from it).
    const { res, json } = await plainWait(agent, WAIT);
    expect(await wire(res, JSON.stringify(json))).toEqual({
      status: 200,
      headers: [
        ["content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"],
        ["content-type", "application/json"],
        ["cross-origin-opener-policy", "same-origin"],
        ["referrer-policy", "same-origin"],
        ["x-content-type-options", "nosniff"],
        ["x-frame-options", "DENY"],
      ],
      body: '{"nudge":false}',
    });
  });
});

/** The same signed wait twice: over the listener (plain path) and in-process through Hono. */
async function sendBoth(a: FakeAgent, body: unknown, o: Parameters<FakeAgent["send"]>[2]) {
  const captured: { url: string; init: RequestInit }[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    captured.push({ url, init });
    return new Response(null);
  }) as typeof fetch;
  try {
    await a.send("wait", body, o);
  } finally {
    globalThis.fetch = realFetch;
  }
  const { url, init } = captured[0]!;
  const before = plainWaitsServed();
  const plain = await realFetch(url, init);
  expect(plainWaitsServed()).toBe(before + 1);
  const hono = await fx.hub.app.request(new URL(url).pathname, init);
  expect(plainWaitsServed()).toBe(before + 1);
  return { plain, hono };
}

async function tamperedWait(agent: FakeAgent, signedBody: string, sentBody: string): Promise<Response> {
  const captured: RequestInit[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (_url: string, init: RequestInit) => {
    captured.push(init);
    return new Response(null);
  }) as typeof fetch;
  try {
    await agent.send("wait", null, { rawBody: signedBody });
  } finally {
    globalThis.fetch = realFetch;
  }
  const before = plainWaitsServed();
  const res = await realFetch(`${fx.hub.url}${AGENT_API_PREFIX}/wait`, { ...captured[0]!, body: sentBody });
  expect(plainWaitsServed()).toBe(before + 1);
  return res;
}

/** A held push WebSocket of the agent (a signed upgrade, as the agent sends it). */
function pushSocket(agent: FakeAgent) {
  const headers = signRequest(loadPrivateKey(agent.keyPair.privateKeyPkcs8), {
    method: "GET",
    path: signedPath("push"),
    instanceId: agent.instanceId,
    time: Date.now(),
    seq: agent.seq,
    bootId: agent.bootId,
    bodySha256: sha256HexOf(""),
  });
  const ws = new WebSocket(`${fx.hub.url.replace("http", "ws")}${AGENT_API_PREFIX}/push?cursor=1&settingsVersion=1`, { headers } as unknown as string[]);
  const opened = new Promise<void>((ok, fail) => {
    ws.onmessage = () => ok();
    ws.onclose = (e) => fail(new Error(`push socket closed: ${e.code}`));
  });
  return { ws, opened };
}
