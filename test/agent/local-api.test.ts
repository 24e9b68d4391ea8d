// The agent's local API: token file, loopback/Host/Origin guards, and clear 4xx answers to
// bad join requests (bad JSON, wrong secret, unreachable hub, TLS problems).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import path from "node:path";
import { Agent } from "../../src/agent/agent";
import { startLocalApi, type LocalApi } from "../../src/agent/local-api";
import { isLoopbackAddress, isLoopbackHost } from "../../src/agent/local-api/guard";
import { ensureDataDir, loadOrCreateToken } from "../../src/agent/local-api/token";
import { freePort, tempDir } from "../helpers";
import { startTestHub, type TestHub } from "../helpers/session";

let hub: TestHub;
let agent: Agent;
let api: LocalApi;
let token: string;
let tokenFile: string;
let dataDir: string;

beforeAll(async () => {
  hub = await startTestHub();
  dataDir = tempDir("certhub-agent-");
  ensureDataDir(dataDir);
  ({ token, file: tokenFile } = loadOrCreateToken(dataDir));
  agent = await Agent.create({ dataDir, listen: null, allowScripts: false }, () => {});
  await agent.start();
  api = await startLocalApi(agent, token, tokenFile, { hostname: "127.0.0.1", port: await freePort() });
});
afterAll(async () => {
  await api.stop();
  await agent.stop();
  await hub.stop();
});

const call = (p: string, init: RequestInit & { auth?: boolean } = {}) => {
  const headers = new Headers(init.headers);
  if (init.auth !== false) headers.set("authorization", `Bearer ${token}`);
  return fetch(`${api.url}${p}`, { ...init, headers });
};
const join = (body: unknown) => call("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("token file", () => {
  test("is created at first start with mode 0600 and a typed prefix", () => {
    expect(path.basename(tokenFile)).toBe("local-api.token");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(token).toStartWith("chub_local_");
    expect(loadOrCreateToken(dataDir).token).toBe(token); // stable across restarts
    // The agent database holds the instance private key.
    expect(statSync(path.join(dataDir, "agent.db")).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  });
});

describe("guards", () => {
  test("no token → 401 naming the token file", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Basic ${btoa("a:b")}` }] as Record<string, string>[]) {
      const res = await call("/api/system/status", { auth: false, headers });
      expect(res.status).toBe(401);
      expect((await res.json()).error).toContain(tokenFile);
    }
  });

  test("a Host header that is not loopback is rejected (DNS rebinding)", async () => {
    const res = await call("/api/system/status", { headers: { host: "attacker.example:9696" } });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toContain("Host");
    for (const host of ["localhost:9696", "127.0.0.2:9696", "[::1]:9696"]) {
      expect((await call("/api/system/status", { headers: { host } })).status).toBe(200);
    }
  });

  test("browser-originated requests are rejected even with the token", async () => {
    for (const headers of [{ origin: "http://127.0.0.2:9696" }, { origin: "null" }, { "sec-fetch-site": "cross-site" }, { "sec-fetch-mode": "no-cors" }] as Record<string, string>[]) {
      const r2 = await call("/api/system/hub/join", { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" });
      expect(r2.status).toBe(403);
      expect((await r2.json()).error).toContain("browser");
    }
  });

  test("address helpers", () => {
    expect(isLoopbackAddress("127.0.0.2")).toBe(true);
    expect(isLoopbackAddress("::ffff:127.0.0.1")).toBe(true);
    expect(isLoopbackAddress("::1")).toBe(true);
    expect(isLoopbackAddress("10.0.0.1")).toBe(false);
    expect(isLoopbackAddress("127.evil.example")).toBe(false);
    expect(isLoopbackHost("127.0.0.1.nip.io:9696")).toBe(false);
    expect(isLoopbackHost("LOCALHOST")).toBe(true);
    expect(isLoopbackHost(null)).toBe(false);
  });

  test("--listen refuses non-loopback addresses", async () => {
    await expect(startLocalApi(agent, token, tokenFile, { hostname: "0.0.0.0", port: 1 })).rejects.toThrow("loopback");
  });
});

describe("join errors are clear 4xx", () => {
  test("bad JSON, missing fields, bad URL, bad fingerprint → 400", async () => {
    const bad = await join("{nope");
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain("JSON");
    const missing = await join({ clientId: "x", url: hub.url });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toContain("secret");
    expect((await join({ clientId: "x", secret: "y", url: "ftp://hub" })).status).toBe(400);
    expect((await join({ clientId: "x", secret: "y", url: "not a url" })).status).toBe(400);
    const fp = await join({ clientId: "x", secret: "y", url: hub.url, fingerprint: "sha256:1234" });
    expect(fp.status).toBe(400);
    expect((await fp.json()).error).toContain("fingerprint");
    const huge = await join({ clientId: "x", secret: "y".repeat(100_000), url: hub.url });
    expect([400, 413]).toContain(huge.status);
  });

  test("wrong secret → 403 with the hub's reason", async () => {
    const key = hub.bootstrap!.joiningKey;
    const res = await join({ clientId: key.clientId, secret: key.secret + "x", url: hub.url });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error).toContain("wrong secret");
    expect(body.code).toBe("invalid-credentials");
  });

  test("unreachable hub → 422", async () => {
    const port = await freePort();
    const res = await join({ clientId: "chub_id_x", secret: "chub_sk_y", url: `http://127.0.0.1:${port}` });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.code).toBe("hub-unreachable");
    expect(body.error).toContain(`127.0.0.1:${port}`);
  });

  test("a URL that is not a hub → 422", async () => {
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("<html>hello</html>", { status: 404 }) });
    try {
      const res = await join({ clientId: "chub_id_x", secret: "chub_sk_y", url: `http://127.0.0.1:${other.port}` });
      expect(res.status).toBe(422);
      expect((await res.json()).code).toBe("not-a-hub");
    } finally {
      other.stop(true);
    }
  });

  test("status before joining says so", async () => {
    const s = await (await call("/api/system/status")).json();
    expect(s).toMatchObject({ joined: false, hubUrl: null, status: "not joined", certificateCount: 0 });
  });

  test("unknown paths and wrong methods are JSON 4xx", async () => {
    expect((await call("/nope")).status).toBe(404);
    expect((await call("/api/system/hub/join")).status).toBe(405);
    expect((await call("/api/system/hub/leave", { method: "POST" })).status).toBe(409);
  });
});
