// The per-scope config cache (src/hub/core/config-cache.ts) never serves a stale config: with
// every part cached (shown by its hit counter), a change of a global, a group and an instance
// setting, of a CA account (global, group, instance), of a credential's value (global and
// group) and of the default contact email each reaches, in the very next config, exactly the
// instances it should — and the others' configs stay as they were.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { configCacheOf } from "../../../src/hub/core/config-cache";
import type { InstanceConfig } from "../../../src/protocol/certificates";
import { until } from "../../helpers/poll";
import type { FakeAgent } from "../agent-api.fixtures";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "./fixtures";

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.hub.stop());

const tsig = (secret: string) => ({ name: "acme-key.", algorithm: "hmac-sha256", secret });
const b64 = (text: string) => Buffer.from(text).toString("base64");

async function ok<T = any>(p: Promise<{ status: number; body: any; text: string }>, status = 200): Promise<T> {
  const r = await p;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
  return r.body as T;
}

/** The config the instance's next sync delivers (it must deliver one: its version moved). */
async function next(agent: FakeAgent): Promise<InstanceConfig> {
  const config = await syncConfig(agent);
  if (!config) throw new Error(`instance ${agent.instanceId} got no new config`);
  return config;
}

/** The whole config as an agent that lost its copy would get it (version 0): unaffected instances. */
async function whole(agent: FakeAgent): Promise<InstanceConfig> {
  const config = await syncConfig(agent, { settingsVersion: 0 });
  if (!config) throw new Error(`instance ${agent.instanceId} got no config`);
  return config;
}

describe("config cache", () => {
  test("each change of a setting, CA account or credential value is in the next config of exactly its instances", async () => {
    // a and b in group "cc-eu", c in no group; each has one certificate naming a TSIG credential.
    const a = await addInstance(w, { group: "cc-eu" });
    const b = await addInstance(w, { group: "cc-eu" });
    const c = await addInstance(w);
    const ca = await createCaAccount(w.admin, { title: "Global CA", email: "" });
    const globalCred = await ok(call(w.admin, "POST", "/api/v1/credentials", { title: "global tsig", type: "tsig", scope: "global", secret: tsig(b64("global-v1")) }), 201);
    const groupCred = await ok(call(w.admin, "POST", "/api/v1/credentials", { title: "group tsig", type: "tsig", scope: "group", scopeId: "cc-eu", secret: tsig(b64("group-v1")) }), 201);
    const cert = (agent: FakeAgent, credentialId: string) =>
      ok(
        call(w.admin, "POST", "/api/v1/managed-certificates", {
          instanceId: agent.instanceId,
          name: `web-${agent.instanceId.slice(-4)}`,
          domains: [`${agent.instanceId.slice(-6).toLowerCase()}.example.com`],
          caAccountId: ca.id,
          challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId },
        }),
        201,
      );
    await cert(a, groupCred.id);
    await cert(b, globalCred.id);
    await cert(c, globalCred.id);
    const all = [a, b, c];
    const secretOf = (config: InstanceConfig, id: string) => (config.credentials.find((x) => x.id === id)?.secret as { secret?: string } | undefined)?.secret;

    // Prime: every instance has its config; the shared parts are now cached. Their rows were
    // just read from the database: the cache serves them once the change feed has caught up.
    for (const agent of all) await next(agent);
    await until("the change feed to catch up", () => all.every((x) => w.hub.deps.fleet.configCacheSafe(x.instanceId)));
    const cache = configCacheOf(w.hub.deps);
    const hitsBefore = cache.stats.hits;
    for (const agent of all) await whole(agent);
    expect(cache.stats.hits).toBeGreaterThan(hitsBefore); // served from the cache, not re-read

    // 1. A global setting: all three.
    await ok(call(w.admin, "PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "global", value: 71 }));
    for (const agent of all) expect((await next(agent)).settings.renewalLifetimePercent).toBe(71);

    // 2. A group setting: a and b; c keeps the global value.
    await ok(call(w.admin, "PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "group", scopeId: "cc-eu", value: 61 }));
    for (const agent of [a, b]) expect((await next(agent)).settings.renewalLifetimePercent).toBe(61);
    expect(await syncConfig(c)).toBeNull();
    expect((await whole(c)).settings.renewalLifetimePercent).toBe(71);

    // 3. An instance setting: a alone.
    await ok(call(w.admin, "PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "instance", scopeId: a.instanceId, value: 51 }));
    expect((await next(a)).settings.renewalLifetimePercent).toBe(51);
    expect((await whole(b)).settings.renewalLifetimePercent).toBe(61);
    // ... and removing it: a falls back to its group's value.
    await ok(call(w.admin, "DELETE", `/api/v1/settings/renewalLifetimePercent?scope=instance&scopeId=${a.instanceId}`));
    expect((await next(a)).settings.renewalLifetimePercent).toBe(61);

    // 4. A global setting used inside CA accounts (the default contact email).
    await ok(call(w.admin, "PUT", "/api/v1/settings/defaultContactEmail", { scope: "global", value: "pki@example.com" }));
    for (const agent of all) expect((await next(agent)).caAccounts.find((x) => x.id === ca.id)?.email).toBe("pki@example.com");

    // 5. The global CA account edited: all three see the new directory and title.
    await ok(call(w.admin, "PUT", `/api/v1/ca-accounts/${ca.id}`, { title: "Global CA v2", directoryUrl: "https://127.0.0.1:14001/dir" }));
    for (const agent of all) {
      const acc = (await next(agent)).caAccounts.find((x) => x.id === ca.id);
      expect(acc).toMatchObject({ title: "Global CA v2", directoryUrl: "https://127.0.0.1:14001/dir" });
    }

    // 6. A group CA account and an instance CA account appear (and go) where they belong.
    const groupCa = await createCaAccount(w.admin, { title: "EU CA", scope: "group", scopeId: "cc-eu" });
    for (const agent of [a, b]) expect((await next(agent)).caAccounts.map((x) => x.id)).toContain(groupCa.id);
    expect(await syncConfig(c)).toBeNull();
    const ownCa = await createCaAccount(w.admin, { title: "B's own CA", scope: "instance", scopeId: b.instanceId });
    expect((await next(b)).caAccounts.map((x) => x.id)).toEqual(expect.arrayContaining([ca.id, groupCa.id, ownCa.id]));
    expect((await whole(a)).caAccounts.map((x) => x.id)).not.toContain(ownCa.id);
    await ok(call(w.admin, "DELETE", `/api/v1/ca-accounts/${ownCa.id}`));
    expect((await next(b)).caAccounts.map((x) => x.id)).not.toContain(ownCa.id);

    // 7. Credential values replaced: the global one reaches b and c, the group one a.
    expect(secretOf(await whole(c), globalCred.id)).toBe(b64("global-v1"));
    await ok(call(w.admin, "PUT", `/api/v1/credentials/${globalCred.id}`, { secret: tsig(b64("global-v2")) }));
    for (const agent of [b, c]) expect(secretOf(await next(agent), globalCred.id)).toBe(b64("global-v2"));
    expect(await syncConfig(a)).toBeNull(); // a does not use it
    await ok(call(w.admin, "PUT", `/api/v1/credentials/${groupCred.id}`, { secret: tsig(b64("group-v2")) }));
    expect(secretOf(await next(a), groupCred.id)).toBe(b64("group-v2"));
    // Still only to the instances whose certificates name them.
    expect((await whole(a)).credentials.map((x) => x.id)).toEqual([groupCred.id]);
    expect((await whole(c)).credentials.map((x) => x.id)).toEqual([globalCred.id]);

    // 8. A credential created after its scope was cached, then named by a new certificate.
    const late = await ok(call(w.admin, "POST", "/api/v1/credentials", { title: "late tsig", type: "tsig", scope: "global", secret: tsig(b64("late-v1")) }), 201);
    await cert(c, late.id);
    expect(secretOf(await next(c), late.id)).toBe(b64("late-v1"));
  });

  test("the cache never holds an opened secret: only ciphertext", async () => {
    const marker = `OpenedSecret${Math.random().toString(36).slice(2, 8)}`;
    const agent = await addInstance(w);
    const ca = await createCaAccount(w.admin, { title: "Secret CA" });
    const cred = await ok(call(w.admin, "POST", "/api/v1/credentials", { title: "t", type: "tsig", scope: "global", secret: tsig(b64(marker)) }), 201);
    await ok(
      call(w.admin, "POST", "/api/v1/managed-certificates", {
        instanceId: agent.instanceId,
        name: "s",
        domains: ["secret.example.com"],
        caAccountId: ca.id,
        challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId: cred.id },
      }),
      201,
    );
    await next(agent);
    await until("the change feed to catch up", () => w.hub.deps.fleet.configCacheSafe(agent.instanceId));
    const config = await whole(agent);
    expect(JSON.stringify(config)).toContain(b64(marker)); // delivered, opened
    // Everything the cache keeps, as text: the secret is not among it.
    const cache = configCacheOf(w.hub.deps) as unknown as { parts: Map<string, { part: Promise<unknown> }> };
    const kept = await Promise.all([...cache.parts.values()].map((e) => e.part));
    const text = JSON.stringify(kept, (_k, v) => (v instanceof Map ? [...v.values()] : v));
    expect(text).toContain(cred.id);
    expect(text).not.toContain(b64(marker));
    expect(text).not.toContain(marker);
  });
});
