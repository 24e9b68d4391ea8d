// The agent runtime against an in-process hub: join, push-delivered commands, scripts policy,
// at-most-once execution, revocation, removal, leave, TLS pinning and clones.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { cpSync } from "node:fs";
import { AgentStore } from "../../src/agent/db/store";
import { HubClientError } from "../../src/agent/hub-client";
import { getCommand } from "../../src/db/commands";
import { resolveHubConfig } from "../../src/hub/config";
import { queueCommand } from "../../src/hub/core/instances";
import { createHub, type RunningHub } from "../../src/hub/server";
import { ADMIN_PASSWORD, tempDir } from "../helpers";
import { until } from "../helpers/poll";
import { useHubWithAgents } from "../helpers/agents";

const fx = useHubWithAgents();
const { agents, newAgent, newKey, joinedAgent } = fx;

async function runCommand(instanceId: string, type: string, payload: unknown = {}) {
  const res = await fx.admin.json(`/api/v1/instances/${instanceId}/commands`, "POST", { type, payload });
  expect(res.status).toBe(202);
  const { commandId } = await res.json();
  return until(`command ${type} done`, async () => {
    const c = await getCommand(fx.hub.deps.db, commandId);
    return c && ["succeeded", "failed", "rejected"].includes(c.status) ? { ...c, result: JSON.parse(c.result ?? "{}") } : undefined;
  });
}

describe("joined agent", () => {
  test("join reports connected and the hub lists the instance", async () => {
    const { agent, instanceId } = await joinedAgent();
    const s = await agent.status();
    expect(s).toMatchObject({ joined: true, hubUrl: fx.hub.url, instanceId, status: "connected", identity: "ok", accessRevoked: false });
    expect(s.lastSyncAt).toBeGreaterThan(Date.now() - 10_000);
    const inst = await (await fx.admin.fetch(`/api/v1/instances/${instanceId}`)).json();
    expect(inst.status).toBe("online");
    expect(inst.version).toBe(s.version);
  });

  test("joining again with the same hub and key is a no-op", async () => {
    const { agent, instanceId, key } = await joinedAgent();
    const again = await agent.join({ url: fx.hub.url, clientId: key.clientId, secret: key.secret, fingerprint: null });
    expect(again).toMatchObject({ instanceId, alreadyJoined: true });
  });

  test("commands reach the agent by push and each result comes back", async () => {
    const { instanceId } = await joinedAgent();
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const c = await runCommand(instanceId, "ping");
      latencies.push(performance.now() - t);
      expect(c.status).toBe("succeeded");
      expect(c.result.message).toBe("pong");
    }
    latencies.sort((a, b) => a - b);
    console.log(`in-process push round trip (queue → result stored): p50 ${latencies[5].toFixed(1)} ms, max ${latencies[9].toFixed(1)} ms`);
    expect(latencies[9]).toBeLessThan(2000);
    for (const [type, msg] of [["renew-now", /no certificates/], ["refresh-external-scan", /^scanned: \d+ certificate|nothing to scan/]] as const) {
      const c = await runCommand(instanceId, type);
      expect(c.status).toBe("succeeded");
      expect(c.result.message).toMatch(msg);
    }
    const settings = await runCommand(instanceId, "update-settings", { values: { renewalDays: 30 } });
    expect(settings.status).toBe("succeeded");
  });

  test("run-script is refused unless the host allowed scripts", async () => {
    const refused = await joinedAgent();
    // The agent reported its policy in its first sync: the hub refuses at once, saying why.
    const inst = await (await fx.admin.fetch(`/api/v1/instances/${refused.instanceId}`)).json();
    expect(inst.allowScripts).toBe(false);
    const atHub = await fx.admin.json(`/api/v1/instances/${refused.instanceId}/commands`, "POST", { type: "run-script", payload: { script: "echo should-not-run" } });
    expect(atHub.status).toBe(409);
    expect((await atHub.json()).error).toContain("--allow-scripts");
    // An agent too old to report it: the hub queues, and the agent itself still refuses.
    await fx.hub.deps.db.run(sql`update instances set allow_scripts = null where id = ${refused.instanceId}`);
    const c = await runCommand(refused.instanceId, "run-script", { script: "echo should-not-run" });
    expect(c.status).toBe("rejected");
    expect(c.result.message).toContain("--allow-scripts");

    const allowed = await joinedAgent({ allowScripts: true });
    const ok = await runCommand(allowed.instanceId, "run-script", { script: "echo hello-from-script" });
    expect(ok.status).toBe("succeeded");
    expect(ok.result.data.stdout).toContain("hello-from-script");
  });

  test("revoking the joining key shows 'access revoked' on the agent", async () => {
    const { agent, key, instanceId } = await joinedAgent();
    await Bun.sleep(100); // let the long-poll start
    const t = performance.now();
    expect((await fx.admin.fetch(`/api/v1/tokens/${key.clientId}/revoke`, { method: "POST" })).status).toBe(200);
    const s = await until("access revoked", async () => {
      const st = await agent.status();
      return st.accessRevoked ? st : undefined;
    });
    expect(performance.now() - t).toBeLessThan(3000);
    expect(s.status).toBe("access revoked");
    expect((await (await fx.admin.fetch(`/api/v1/instances/${instanceId}`)).json()).status).toBe("revoked");
  });

  test("an instance removed in the hub shows as removed; leave tells the hub", async () => {
    const removed = await joinedAgent();
    await fx.admin.fetch(`/api/v1/instances/${removed.instanceId}/remove`, { method: "POST" });
    await until("removed", async () => (await removed.agent.status()).status === "removed from hub");

    const leaving = await joinedAgent();
    const r = await leaving.agent.leave();
    expect(r).toMatchObject({ left: true, hubNotified: true });
    expect((await fx.admin.fetch(`/api/v1/instances/${leaving.instanceId}`)).status).toBe(404);
    expect(await leaving.agent.status()).toMatchObject({ joined: false, status: "not joined" });
  });
});

describe("reverse proxy", () => {
  test("a hub behind a path-prefix proxy (https://proxy/certhub/…) works: the signed path is prefix-independent", async () => {
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const u = new URL(req.url);
        if (!u.pathname.startsWith("/certhub/")) return new Response("not here", { status: 404 });
        const target = `${fx.hub.url}${u.pathname.slice("/certhub".length)}${u.search}`;
        return fetch(target, { method: req.method, headers: req.headers, body: req.method === "POST" ? await req.arrayBuffer() : undefined });
      },
    });
    try {
      const key = await newKey();
      const a = await newAgent();
      const r = await a.join({ url: `http://127.0.0.1:${proxy.port}/certhub/`, clientId: key.clientId, secret: key.secret, fingerprint: null });
      await until("connected through the proxy", async () => (await a.status()).status === "connected");
      expect((await a.status()).hubUrl).toBe(`http://127.0.0.1:${proxy.port}/certhub`);
      const c = await runCommand(r.instanceId, "ping");
      expect(c.status).toBe("succeeded");
      await a.stop();
      agents.splice(agents.indexOf(a), 1);
    } finally {
      proxy.stop(true);
    }
  });
});

describe("at most once", () => {
  test("a command interrupted by a crash is reported, not run again", async () => {
    const dir = tempDir("certhub-agent-");
    const store = await AgentStore.open(dir);
    await store.receiveCommands([{ id: "cmd_crashed", seq: 1, type: "ping", payload: {}, createdAt: Date.now() }]);
    const row = (await store.nextCommand())!;
    await store.markRunning(row.id);
    store.close();

    const a = await newAgent({ dataDir: dir });
    const results = await a.store.pendingResults();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ commandId: "cmd_crashed", status: "failed" });
    expect(results[0].message).toContain("interrupted");
    // Delivered again by the hub (same id): ignored.
    expect(await a.store.receiveCommands([{ id: "cmd_crashed", seq: 1, type: "ping", payload: {}, createdAt: Date.now() }])).toBe(0);
  });
});

describe("TLS", () => {
  let tlsHub: RunningHub;
  beforeAll(async () => {
    process.env.CERTHUB_ADMIN_PASSWORD = ADMIN_PASSWORD;
    tlsHub = await createHub(resolveHubConfig({ "data-dir": tempDir("certhub-tlshub-"), listen: "127.0.0.1:0" }));
    delete process.env.CERTHUB_ADMIN_PASSWORD;
  });
  afterAll(() => tlsHub.stop());

  test("a self-signed hub is refused without a pin, with a wrong pin, and accepted with the right one", async () => {
    expect(tlsHub.url).toStartWith("https://");
    const key = tlsHub.bootstrap!.joiningKey;
    const a = await newAgent();
    const attempt = (fingerprint: string | null) => a.join({ url: tlsHub.url, clientId: key.clientId, secret: key.secret, fingerprint }).then(
      () => null,
      (e: HubClientError) => e,
    );
    const noPin = await attempt(null);
    expect(noPin?.kind).toBe("tls");
    expect(noPin?.message).toContain("fingerprint");
    const wrong = await attempt(`sha256:${"0".repeat(64)}`);
    expect(wrong?.kind).toBe("fingerprint-mismatch");
    expect(wrong?.message).toContain(tlsHub.fingerprint!);

    const r = await a.join({ url: tlsHub.url, clientId: key.clientId, secret: key.secret, fingerprint: tlsHub.fingerprint! });
    await until("connected over pinned TLS", async () => (await a.status()).status === "connected");
    // The pin holds for every later request: a command round trip over the pinned connection.
    const queued = await queueCommand(tlsHub.deps, r.instanceId, "ping", {}, { id: null, label: "test" });
    await until("ping over TLS", async () => (await getCommand(tlsHub.deps.db, queued!.id))?.status === "succeeded");
    // localhost is not the name the agent joined with, but the pin is what is trusted.
    const b = await newAgent();
    await b.join({ url: tlsHub.url.replace("127.0.0.1", "localhost"), clientId: key.clientId, secret: key.secret, fingerprint: tlsHub.fingerprint! });
    await until("connected via localhost", async () => (await b.status()).status === "connected");
  });
});

describe("clones", () => {
  test("a copied data dir produces an identity conflict; reset identity splits them", async () => {
    const { agent: original, instanceId } = await joinedAgent();
    await original.stop();
    agents.splice(agents.indexOf(original), 1);
    const dirA = original.config.dataDir;
    const dirB = tempDir("certhub-agent-clone-");
    cpSync(dirA, dirB, { recursive: true });
    const a = await newAgent({ dataDir: dirA });
    const b = await newAgent({ dataDir: dirB });
    // Both sync with the same identity; their sequences diverge under different boot ids.
    const flagged = await until("conflict flagged", async () => {
      a.sync.syncNow();
      b.sync.syncNow();
      const inst = await (await fx.admin.fetch(`/api/v1/instances/${instanceId}`)).json();
      return inst.identityConflict ? inst : undefined;
    });
    expect(flagged.status).toBe("conflict");
    await until("agents see the conflict", async () => (await a.status()).identity === "conflict" || (await b.status()).identity === "conflict");

    expect((await fx.admin.fetch(`/api/v1/instances/${instanceId}/reset-identity`, { method: "POST" })).status).toBe(200);
    const ids = await until("both re-keyed", async () => {
      a.sync.syncNow();
      b.sync.syncNow();
      const [sa, sb] = [await a.status(), await b.status()];
      return sa.instanceId !== sb.instanceId && sa.status === "connected" && sb.status === "connected" && sa.identity === "ok" && sb.identity === "ok"
        ? [sa.instanceId!, sb.instanceId!]
        : undefined;
    }, 10_000);
    expect(ids).toContain(instanceId);
    const other = ids.find((i) => i !== instanceId)!;
    const clone = await (await fx.admin.fetch(`/api/v1/instances/${other}`)).json();
    expect(clone).toMatchObject({ clonedFromId: instanceId, identityConflict: false });
    expect((await (await fx.admin.fetch(`/api/v1/instances/${instanceId}`)).json()).identityConflict).toBe(false);
  });
});
