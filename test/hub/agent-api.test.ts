// Hub side of the agent protocol, driven by a scriptable fake agent against an in-process hub:
// join (key checks, idempotent retry), conditional sync, commands, push, revocation,
// replay/out-of-order protection, clones and identity reset.
import { describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { instances } from "../../src/db/schema";
import { useSignedInHub } from "../helpers/hub-fixture";
import { createJoiningKey } from "./joining-keys.fixtures";
import { FACTS, FakeAgent } from "./agent-api.fixtures";

const fx = useSignedInHub();

const newKey = (body: Record<string, unknown> = {}) => createJoiningKey(fx.admin, body);

const agent = () => new FakeAgent(fx.hub.url);
const instanceRow = async (id: string) => (await fx.hub.deps.db.select().from(instances).where(eq(instances.id, id)))[0];
const apiInstance = async (id: string) => (await fx.admin.fetch(`/api/v1/instances/${id}`)).json();

describe("join", () => {
  test("a joining key registers the instance, which the admin API lists", async () => {
    const key = await newKey({ group: "org-a" });
    const a = agent();
    const res = await a.join(key.clientId, key.secret, { ...FACTS, hostname: "web-01" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.instanceId).toStartWith("inst_");
    expect(body.group).toBe("org-a");
    const list = (await (await fx.admin.fetch("/api/v1/instances")).json()) as any[];
    const mine = list.find((i) => i.id === body.instanceId);
    expect(mine).toMatchObject({ hostname: "web-01", os: FACTS.os, arch: "x64", version: FACTS.version, status: "online", identityConflict: false });
    expect(mine.joiningKey).toMatchObject({ clientId: key.clientId, group: "org-a" });
    expect(mine.lastSeenAt).toBeGreaterThan(Date.now() - 10_000);
    // API Access shows the key's last use and last instance.
    const view = await (await fx.admin.fetch(`/api/v1/tokens/${key.clientId}`)).json();
    expect(view.useCount).toBe(1);
    expect(view.lastInstanceId).toBe(body.instanceId);
    expect(view.lastUsedAt).toBeGreaterThan(Date.now() - 10_000);
    const page = await (await fx.admin.fetch(`/settings/api-access?q=${key.clientId}`)).text();
    expect(page).toContain(`href="/instances/${body.instanceId}"`); // last instance, linked
    expect(page).toMatch(/>\s*1 \/ ∞\s*</); // use count of unlimited uses
  });

  test("retrying a join with the same key pair returns the same instance and uses the key once", async () => {
    const key = await newKey();
    const a = agent();
    const first = await (await a.join(key.clientId, key.secret)).json();
    const again = await (await a.join(key.clientId, key.secret)).json();
    expect(again.instanceId).toBe(first.instanceId);
    expect((await (await fx.admin.fetch(`/api/v1/tokens/${key.clientId}`)).json()).useCount).toBe(1);
  });

  test("wrong secret, revoked, retired, expired and used-up keys get distinct errors", async () => {
    const key = await newKey();
    const wrong = await agent().join(key.clientId, key.secret + "x");
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: "invalid-credentials" });

    const once = await newKey({ maxUses: 2 });
    expect((await agent().join(once.clientId, once.secret)).status).toBe(200);
    expect((await agent().join(once.clientId, once.secret)).status).toBe(200);
    const third = await agent().join(once.clientId, once.secret);
    expect(third.status).toBe(403);
    expect(await third.json()).toMatchObject({ code: "key-used-up" });

    const shortLived = await newKey({ expiresAt: Date.now() + 1000 });
    await Bun.sleep(1100);
    const expired = await agent().join(shortLived.clientId, shortLived.secret);
    expect(expired.status).toBe(403);
    const e = await expired.json();
    expect(e.code).toBe("key-expired");
    expect(e.error).toContain("expired");

    const revoked = await newKey();
    await fx.admin.fetch(`/api/v1/tokens/${revoked.clientId}/revoke`, { method: "POST" });
    expect(await (await agent().join(revoked.clientId, revoked.secret)).json()).toMatchObject({ code: "key-revoked" });

    const retired = await newKey();
    await fx.admin.fetch(`/api/v1/tokens/${retired.clientId}/retire`, { method: "POST" });
    expect(await (await agent().join(retired.clientId, retired.secret)).json()).toMatchObject({ code: "key-retired" });

    // An administrator API token is not a joining key.
    const adminKey = await newKey({ role: "administrator" });
    expect(await (await agent().join(adminKey.clientId, adminKey.secret)).json()).toMatchObject({ code: "key-wrong-role" });
  });

  test("the join must be signed with the key being registered", async () => {
    const key = await newKey();
    const a = agent();
    const other = new FakeAgent(fx.hub.url).keyPair;
    const res = await a.send("join", { clientId: key.clientId, secret: key.secret, publicKey: a.keyPair.publicKey, facts: FACTS }, { seq: 0, keyPair: other });
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe("bad-signature");
    expect((await (await fx.admin.fetch(`/api/v1/tokens/${key.clientId}`)).json()).useCount).toBe(0);
  });
});

describe("sync", () => {
  test("an unchanged sync answers 204 and writes nothing to the database", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    // First sync: certificates hash unknown to the hub → it asks for the list.
    const first = await a.sync({ certificatesHash: "h1", facts: FACTS });
    expect(first.status).toBe(200);
    expect((await first.json()).needCertificates).toBe(true);
    const second = await a.sync({ certificatesHash: "h1", certificates: [] });
    expect((await second.json()).certificatesHash).toBe("h1");

    // Any write commits to the WAL and grows it; heartbeats are only flushed in batches.
    const walSize = () => Bun.file(`${fx.hub.dataDir}/hub.db-wal`).size;
    let grew = -1;
    for (let attempt = 0; attempt < 3 && grew !== 0; attempt++) {
      await fx.hub.deps.fleet.flushSeen();
      const before = walSize();
      for (let i = 0; i < 20; i++) {
        const r = await a.sync({ certificatesHash: "h1", settingsVersion: 1 });
        expect(r.status).toBe(204);
        expect(await r.text()).toBe("");
      }
      grew = walSize() - before; // non-zero only if the periodic flush happened to run meanwhile
    }
    expect(grew).toBe(0);
    // Sanity check of the measure: a sync that does change something is visible in the WAL.
    const before = walSize();
    expect((await a.sync({ certificatesHash: "h2", certificates: [] })).status).toBe(200);
    expect(walSize()).toBeGreaterThan(before);
  });

  test("commands are delivered in order, results stored once and acknowledged", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fx.admin.json(`/api/v1/instances/${a.instanceId}/commands`, "POST", { type: "ping" });
      expect(r.status).toBe(202);
      ids.push((await r.json()).commandId);
    }
    const res = await (await a.sync({ settingsVersion: 1 })).json();
    expect(res.commands.map((c: { id: string }) => c.id)).toEqual(ids);
    expect(res.commands.map((c: { seq: number }) => c.seq)).toEqual([1, 2, 3]);
    const results = res.commands.map((c: { id: string; seq: number }) => ({ commandId: c.id, seq: c.seq, status: "succeeded", message: "pong", completedAt: Date.now() }));
    const acked = await (await a.sync({ settingsVersion: 1, cursor: 3, results })).json();
    expect(acked.ackResults).toEqual(ids);
    expect(acked.commands).toBeUndefined();
    // Reported again (the ack was lost): acknowledged again, stored once.
    const again = await (await a.sync({ settingsVersion: 1, cursor: 3, results: [{ ...results[0], message: "second report" }] })).json();
    expect(again.ackResults).toEqual([ids[0]]);
    const cmd = await (await fx.admin.fetch(`/api/v1/commands/${ids[0]}`)).json();
    expect(cmd).toMatchObject({ status: "succeeded", result: { message: "pong" } });
    const detail = await apiInstance(a.instanceId);
    expect(detail.recentCommands).toHaveLength(3);
    expect(detail.pendingCommands).toBe(0);
  });

  test("certificates reported by the agent are listed fleet-wide", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const notAfter = Date.now() + 20 * 86400_000;
    const certificates = [
      { id: "c1", name: "www", domains: ["www.example.test"], source: "managed", status: "valid", notBefore: Date.now() - 1000, notAfter },
      { id: "c2", name: "api", domains: ["api.example.test"], source: "certbot", status: "expiring", notAfter: Date.now() + 86400_000 },
    ];
    expect((await a.sync({ certificatesHash: "x", certificates })).status).toBe(200);
    const list = (await (await fx.admin.fetch(`/api/v1/certificates?instanceId=${a.instanceId}`)).json()) as any[];
    expect(list.map((c) => c.id)).toEqual(["c2", "c1"]); // sorted by expiry
    expect(list[1]).toMatchObject({ instanceId: a.instanceId, domains: ["www.example.test"], notAfter, source: "managed", status: "valid" });
    expect((await apiInstance(a.instanceId)).certificateCount).toBe(2);
  });

  test("settings changes reach the agent with a new version", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const first = await (await a.sync({ settingsVersion: 0 })).json();
    expect(first.config.version).toBe(1);
    expect((await a.sync({ settingsVersion: 1 })).status).toBe(204);
    await fx.hub.deps.fleet.settingsChanged({ instanceId: a.instanceId });
    const next = await (await a.sync({ settingsVersion: 1 })).json();
    expect(next.config.version).toBe(2);
  });
});

describe("push", () => {
  test("a waiting agent is nudged as soon as a command is queued", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    expect((await a.sync({ settingsVersion: 1 })).status).toBe(204);
    const started = performance.now();
    const waiting = a.send("wait", { cursor: 0, settingsVersion: 1, timeoutSeconds: 20 });
    await Bun.sleep(100);
    const queued = performance.now();
    await fx.admin.json(`/api/v1/instances/${a.instanceId}/commands`, "POST", { type: "ping" });
    const res = await waiting;
    const latency = performance.now() - queued;
    expect(await res.json()).toEqual({ nudge: true });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(latency).toBeLessThan(1000);
  });

  test("a wait times out with nudge:false when nothing happens", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const res = await a.send("wait", { cursor: 0, settingsVersion: 1, timeoutSeconds: 1 });
    expect(await res.json()).toEqual({ nudge: false });
  });
});

describe("revocation", () => {
  test("revoking key A cuts off A's instances at their next request and leaves key B's alone", async () => {
    const keyA = await newKey({ group: "A" });
    const keyB = await newKey({ group: "B" });
    const a = await agent().joined(keyA.clientId, keyA.secret);
    const b = await agent().joined(keyB.clientId, keyB.secret);
    // A long-poll held by A wakes up when its key is revoked.
    const waiting = a.send("wait", { cursor: 0, settingsVersion: 1, timeoutSeconds: 20 });
    await Bun.sleep(50);
    expect((await fx.admin.fetch(`/api/v1/tokens/${keyA.clientId}/revoke`, { method: "POST" })).status).toBe(200);
    expect(await (await waiting).json()).toEqual({ nudge: true });
    const cut = await a.sync({ settingsVersion: 1 });
    expect(cut.status).toBe(403);
    expect(await cut.json()).toMatchObject({ code: "key-revoked" });
    expect([200, 204]).toContain((await b.sync({ settingsVersion: 1 })).status);
    expect((await apiInstance(a.instanceId)).status).toBe("revoked");
    expect((await apiInstance(b.instanceId)).status).toBe("online");
  });

  test("retiring a key stops new joins but joined instances keep working", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    await fx.admin.fetch(`/api/v1/tokens/${key.clientId}/retire`, { method: "POST" });
    expect([200, 204]).toContain((await a.sync({ settingsVersion: 1 })).status);
    expect((await agent().join(key.clientId, key.secret)).status).toBe(403);
  });

  test("a single instance can be revoked and reinstated", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const b = await agent().joined(key.clientId, key.secret);
    expect((await fx.admin.fetch(`/api/v1/instances/${a.instanceId}/revoke`, { method: "POST" })).status).toBe(200);
    const cut = await a.sync({ settingsVersion: 1 });
    expect(cut.status).toBe(403);
    expect((await cut.json()).code).toBe("instance-revoked");
    expect([200, 204]).toContain((await b.sync({ settingsVersion: 1 })).status);
    expect((await fx.admin.fetch(`/api/v1/instances/${a.instanceId}/reinstate`, { method: "POST" })).status).toBe(200);
    expect([200, 204]).toContain((await a.sync({ settingsVersion: 1 })).status);
    const audit = (await (await fx.admin.fetch("/api/v1/audit?q=instance.revoke")).json()) as any;
    const entries = Array.isArray(audit) ? audit : audit.rows ?? audit.entries ?? [];
    expect(JSON.stringify(entries)).toContain(a.instanceId);
  });

  test("a removed instance is told it is unknown", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    expect((await fx.admin.fetch(`/api/v1/instances/${a.instanceId}`, { method: "DELETE" })).status).toBe(200);
    const res = await a.sync({ settingsVersion: 1 });
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe("instance-unknown");
    expect((await fx.admin.fetch(`/api/v1/instances/${a.instanceId}`)).status).toBe(404);
  });
});

describe("replays, clones and identity reset", () => {
  test("a replayed or out-of-order sync is refused without changing state", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    expect((await a.sync({ settingsVersion: 1 }, { seq: 10 })).status).toBe(204);
    const before = fx.hub.deps.fleet.peekInstance(a.instanceId)!.lastSeq;
    const replay = await a.sync({ settingsVersion: 1 }, { seq: 10 });
    expect(replay.status).toBe(409);
    expect((await replay.json()).code).toBe("replay");
    const older = await a.sync({ settingsVersion: 1 }, { seq: 7 });
    expect(older.status).toBe(409);
    expect(fx.hub.deps.fleet.peekInstance(a.instanceId)!.lastSeq).toBe(before);
    expect((await apiInstance(a.instanceId)).identityConflict).toBe(false);
    // A restart (new boot id) continues with higher numbers: fine.
    a.bootId = "restarted-boot-id-0001";
    expect((await a.sync({ settingsVersion: 1 }, { seq: 1001 })).status).toBe(204);
  });

  test("a cloned identity is flagged; reset identity re-keys the first and re-joins the copy as a new instance", async () => {
    const key = await newKey({ group: "clones" });
    const original = await agent().joined(key.clientId, key.secret);
    expect((await original.sync({ settingsVersion: 1 })).status).toBe(204);
    const copy = original.clone(); // same key and sequence counter, another process
    original.seq += 5;
    expect((await original.sync({ settingsVersion: 1 })).status).toBe(204);
    const conflict = await copy.sync({ settingsVersion: 1 }); // lower sequence, other boot id
    expect(conflict.status).toBe(200);
    expect((await conflict.json()).identityConflict).toBe(true);
    const flagged = await apiInstance(original.instanceId);
    expect(flagged.identityConflict).toBe(true);
    expect(flagged.status).toBe("conflict");
    // While in conflict, commands are held back.
    await fx.admin.json(`/api/v1/instances/${original.instanceId}/commands`, "POST", { type: "ping" });
    const held = await (await original.sync({ settingsVersion: 1 })).json();
    expect(held.commands).toBeUndefined();
    expect(held.identityConflict).toBe(true);

    expect((await fx.admin.fetch(`/api/v1/instances/${original.instanceId}/reset-identity`, { method: "POST" })).status).toBe(200);
    const told = await (await copy.sync({ settingsVersion: 1 })).json();
    expect(told.rekey).toBe(true);

    // The copy re-keys first: it keeps the instance.
    const copyKey = new FakeAgent(fx.hub.url).keyPair;
    const kept = await copy.send("rekey", { newPublicKey: copyKey.publicKey, facts: { ...FACTS, hostname: "copy" } });
    expect(kept.status).toBe(200);
    expect(await kept.json()).toEqual({ instanceId: original.instanceId, keptInstance: true });
    copy.keyPair = copyKey;

    // The other one is refused with the old key and re-keys into a new instance.
    const refused = await original.sync({ settingsVersion: 1 });
    expect(refused.status).toBe(409);
    expect((await refused.json()).code).toBe("rekey-required");
    const newKeyPair = new FakeAgent(fx.hub.url).keyPair;
    const rejoined = await (await original.send("rekey", { newPublicKey: newKeyPair.publicKey, facts: { ...FACTS, hostname: "original" } })).json();
    expect(rejoined.keptInstance).toBe(false);
    expect(rejoined.instanceId).not.toBe(original.instanceId);
    const oldId = original.instanceId;
    original.instanceId = rejoined.instanceId;
    original.keyPair = newKeyPair;

    expect((await copy.sync({ settingsVersion: 1, cursor: 0 })).status).toBe(200); // gets the held ping
    expect([200, 204]).toContain((await original.sync({ settingsVersion: 1 })).status);
    const a = await apiInstance(oldId);
    const b = await apiInstance(rejoined.instanceId);
    expect(a).toMatchObject({ identityConflict: false, identityResetPending: false, status: "online" });
    expect(b).toMatchObject({ identityConflict: false, clonedFromId: oldId, group: "clones", status: "online" });
    expect(b.joiningKey.clientId).toBe(key.clientId);
  });

  test("a changed machine id flags a conflict", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret, { ...FACTS, machineId: "a".repeat(64) });
    const res = await (await a.sync({ settingsVersion: 1, facts: { ...FACTS, machineId: "b".repeat(64) } })).json();
    expect(res.identityConflict).toBe(true);
    expect((await apiInstance(a.instanceId)).identityConflict).toBe(true);
  });
});

describe("bad input never crashes or corrupts", () => {
  test("every endpoint answers malformed, oversized, unsigned and mis-signed requests with a JSON 4xx", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const rowBefore = await instanceRow(a.instanceId);
    const big = JSON.stringify({ settingsVersion: 1, cursor: 0, padding: "x".repeat(3 * 1024 * 1024) });
    for (const endpoint of ["join", "sync", "wait", "rekey", "leave"]) {
      const url = `${fx.hub.url}/api/agent/v1/${endpoint}`;
      const cases: [string, Response][] = [
        ["no body", await fetch(url, { method: "POST" })],
        ["not json", await a.send(endpoint, null, { rawBody: "{not json" })],
        ["wrong shape", await a.send(endpoint, null, { rawBody: JSON.stringify({ cursor: "x", clientId: 5 }) })],
        ["array", await a.send(endpoint, null, { rawBody: "[1,2,3]" })],
        ["oversized", await a.send(endpoint, null, { rawBody: big })],
        ["unsigned", await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })],
        ["garbage headers", await fetch(url, { method: "POST", headers: { "x-certhub-instance": "x", "x-certhub-time": "nan", "x-certhub-seq": "-1", "x-certhub-boot": "!", "x-certhub-signature": "zz" }, body: "{}" })],
        ["stale clock", await a.send(endpoint, { settingsVersion: 1, cursor: 0 }, { time: Date.now() - 3600_000 })],
        ["unknown instance", await a.send(endpoint, { settingsVersion: 1, cursor: 0 }, { instanceId: "inst_nope" })],
        ["wrong key", await a.send(endpoint, { settingsVersion: 1, cursor: 0 }, { keyPair: new FakeAgent(fx.hub.url).keyPair })],
      ];
      for (const [name, res] of cases) {
        const label = `${endpoint} / ${name} → ${res.status}`;
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(res.status, label).toBeLessThan(500);
        const body = await res.json();
        expect(typeof body.error, label).toBe("string");
      }
    }
    const after = await instanceRow(a.instanceId);
    expect(after).toBeDefined(); // "leave" with bad input did not remove it
    expect(after.publicKey).toBe(rowBefore.publicKey);
    expect([200, 204]).toContain((await a.sync({ settingsVersion: 1 })).status);
  });

  test("the hub still serves after the abuse", async () => {
    expect((await fetch(`${fx.hub.url}/healthz`)).status).toBe(200);
    const [{ n }] = await fx.hub.deps.db.select({ n: sql<number>`count(*)` }).from(instances);
    expect(Number(n)).toBeGreaterThan(0);
  });
});

describe("leave", () => {
  test("a signed leave removes the instance", async () => {
    const key = await newKey();
    const a = await agent().joined(key.clientId, key.secret);
    const res = await a.send("leave", {});
    expect(await res.json()).toEqual({ left: true });
    expect(await instanceRow(a.instanceId)).toBeUndefined();
  });
});
