// Moving a stored credential or a CA account to another scope (PATCH "scope"/"scopeId") over
// HTTP against an in-process hub with signing fake agents: the secret stays usable (the next
// config of the instance using it carries the same decrypted value), the ciphertext is re-sealed
// for the new scope, a move that would strand a certificate is refused naming it and changes
// nothing (row, ciphertext, config versions), a CA account's EAB credential moves only with its
// account (not wider, not narrower on its own), each move is audited, and moving one that was
// deleted is 404 (not a 500, and nothing comes back).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { moveCredentialRow, sealedCredentials } from "../../../src/db/credentials";
import { instancesByIds } from "../../../src/db/instances";
import { configCacheOf } from "../../../src/hub/core/config-cache";
import { AeadError, open } from "../../../src/lib/aead";
import { until } from "../../helpers/poll";
import { credentialAad, resealFor } from "../../../src/hub/core/credentials";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../core/fixtures";

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.hub.stop());

const marker = Math.random().toString(36).slice(2, 10);

async function sealedRow(id: string) {
  const [row] = await sealedCredentials(w.hub.deps.db, [id]);
  return row!;
}

async function versions(ids: string[]): Promise<Record<string, number>> {
  return Object.fromEntries((await instancesByIds(w.hub.deps.db, ids)).map((i) => [i.id, i.settingsVersion]));
}

async function auditRows(action: string, targetId: string) {
  const r = await call(w.admin, "GET", "/api/v1/audit?limit=200");
  expect(r.status).toBe(200);
  return (r.body as any[]).filter((a) => a.action === action && a.targetId === targetId);
}

const tsigSecret = (s: string) => ({ name: "move-key.", algorithm: "hmac-sha256", secret: s });

async function certUsing(instanceId: string, name: string, caAccountId: string, credentialId: string) {
  const r = await call(w.admin, "POST", "/api/v1/managed-certificates", {
    instanceId,
    name,
    domains: [`${name}.example.com`],
    caAccountId,
    challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId },
  });
  expect(r.status).toBe(201);
  return r.body as { id: string };
}

describe("moving a stored credential to another scope", () => {
  test("instance → group → global: the instance using it gets the same decrypted secret each time; re-sealed, audited", async () => {
    const a = await addInstance(w, { group: "mv-web", hostname: "mv-web-01" });
    const other = await addInstance(w, { group: "mv-db" });
    const secret = `MoveTsig${marker}Aa`;
    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "web TSIG", type: "tsig", scope: "instance", scopeId: a.instanceId, secret: tsigSecret(secret) });
    expect(cred.status).toBe(201);
    const ca = await createCaAccount(w.admin);
    await certUsing(a.instanceId, "mv-www", ca.id, cred.body.id);
    const first = await syncConfig(a);
    expect(first!.credentials).toEqual([{ id: cred.body.id, type: "tsig", secret: tsigSecret(secret) }]);
    await syncConfig(other);

    const sealedBefore = await sealedRow(cred.body.id);
    const toGroup = await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "group", scopeId: "mv-web" });
    expect(toGroup.status).toBe(200);
    expect(toGroup.body).toMatchObject({ id: cred.body.id, title: "web TSIG", type: "tsig", scope: "group", scopeId: "mv-web" });
    expect(toGroup.body.secret).toBeUndefined();
    expect(JSON.stringify(toGroup.body)).not.toContain(secret);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.body.id}`)).body).toMatchObject({ scope: "group", scopeId: "mv-web" });

    // Re-sealed for the new scope: the old associated data no longer opens it, the new one does.
    const sealedGroup = await sealedRow(cred.body.id);
    expect(sealedGroup.ciphertext).not.toBe(sealedBefore.ciphertext);
    const key = w.hub.deps.secretKey;
    expect(() => open(key, sealedGroup.ciphertext, credentialAad({ id: cred.body.id, scope: "instance", scopeId: a.instanceId }))).toThrow(AeadError);
    expect(JSON.parse(open(key, sealedGroup.ciphertext, credentialAad({ id: cred.body.id, scope: "group", scopeId: "mv-web" })))).toEqual(tsigSecret(secret));

    // The instance using it receives a new config with the same secret.
    const afterGroup = await syncConfig(a);
    expect(afterGroup).not.toBeNull();
    expect(afterGroup!.credentials).toEqual([{ id: cred.body.id, type: "tsig", secret: tsigSecret(secret) }]);
    // It is now listed for the group's instances too, not for another group's.
    const listedFor = async (id: string) => (await call(w.admin, "GET", `/api/v1/credentials?instanceId=${id}`)).body.map((c: any) => c.id);
    expect(await listedFor(other.instanceId)).not.toContain(cred.body.id);

    const toGlobal = await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "global" });
    expect(toGlobal.status).toBe(200);
    expect(toGlobal.body.scope).toBe("global");
    expect(toGlobal.body.scopeId).toBeUndefined();
    const sealedGlobal = await sealedRow(cred.body.id);
    expect(() => open(key, sealedGlobal.ciphertext, credentialAad({ id: cred.body.id, scope: "group", scopeId: "mv-web" }))).toThrow(AeadError);
    const afterGlobal = await syncConfig(a);
    expect(afterGlobal!.credentials).toEqual([{ id: cred.body.id, type: "tsig", secret: tsigSecret(secret) }]);
    expect(await listedFor(other.instanceId)).toContain(cred.body.id);
    // An instance that does not use it is not sent anything (its config did not change).
    expect(await syncConfig(other)).toBeNull();

    // Removing the instance it came from no longer takes it along (it is not instance-scoped).
    expect((await call(w.admin, "DELETE", `/api/v1/instances/${a.instanceId}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.body.id}`)).status).toBe(200);

    const moves = await auditRows("credential.move", cred.body.id);
    expect(moves.map((m) => m.detail)).toEqual([
      expect.objectContaining({ from: { scope: "group", scopeId: "mv-web" }, to: { scope: "global" } }),
      expect.objectContaining({ from: { scope: "instance", scopeId: a.instanceId }, to: { scope: "group", scopeId: "mv-web" } }),
    ]);
    expect(moves[0].actorLabel).toBe("admin");
    expect(JSON.stringify(moves)).not.toContain(secret);
  });

  test("a move that would strand a certificate is 409 on field scope naming it and its instance; nothing changes", async () => {
    const a = await addInstance(w, { group: "st-a", hostname: "strand-host-a" });
    const b = await addInstance(w, { group: "st-b", hostname: "strand-host-b" });
    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "shared TSIG", type: "tsig", scope: "global", secret: tsigSecret(`Strand${marker}Bb`) });
    const ca = await createCaAccount(w.admin);
    const cert = await certUsing(a.instanceId, "strand-me", ca.id, cred.body.id);
    await syncConfig(a);
    await syncConfig(b);

    const rowBefore = await sealedRow(cred.body.id);
    const versionsBefore = await versions([a.instanceId, b.instanceId]);
    for (const target of [{ scope: "group", scopeId: "st-b" }, { scope: "instance", scopeId: b.instanceId }]) {
      const r = await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { ...target, title: "renamed while refused" });
      expect(r.status).toBe(409);
      expect(r.body.field).toBe("scope");
      expect(r.body.error).toContain('certificate "strand-me"');
      expect(r.body.error).toContain(cert.id);
      expect(r.body.error).toContain("strand-host-a");
      expect(r.body.error).toContain(a.instanceId);
    }
    // Row (scope, title, ciphertext, updatedAt), config versions and the audit log: untouched.
    expect(await sealedRow(cred.body.id)).toEqual(rowBefore);
    expect(await versions([a.instanceId, b.instanceId])).toEqual(versionsBefore);
    expect(await auditRows("credential.move", cred.body.id)).toEqual([]);
    expect(await syncConfig(a)).toBeNull();
    expect(await syncConfig(b)).toBeNull();

    // Narrowing to the scope that still holds the certificate's instance is fine.
    const ok = await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "group", scopeId: "st-a" });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ scope: "group", scopeId: "st-a" });
  });

  test("an EAB credential cannot leave its CA account's reach; bad scope input is 400", async () => {
    const a = await addInstance(w, { group: "eab-g", hostname: "eab-host" });
    const eabCa = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "Group EAB CA", directoryUrl: "https://127.0.0.1:14000/dir", scope: "group", scopeId: "eab-g", eab: { keyId: "kid", hmacKey: "aGVsbG8" } });
    expect(eabCa.status).toBe(201);
    const eabId = eabCa.body.eab.credentialId;
    const r = await call(w.admin, "PATCH", `/api/v1/credentials/${eabId}`, { scope: "instance", scopeId: a.instanceId });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ field: "scope" });
    expect(r.body.error).toContain('CA account "Group EAB CA"');
    expect(r.body.error).toContain('group "eab-g"');

    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "x", type: "password", scope: "global", secret: { password: "p" } });
    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scopeId: "eab-g" })).status).toBe(400);
    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "instance", scopeId: "inst_nope" })).status).toBe(400);
    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "group" })).status).toBe(400);
    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "planet" })).status).toBe(400);
    expect((await call(w.admin, "PATCH", "/api/v1/credentials/cred_nope", { scope: "global" })).status).toBe(404);
    // A PATCH without scope still changes the title (and moves nothing).
    const renamed = await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { title: "renamed" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ title: "renamed", scope: "global" });
  });
});

async function httpCertUsing(instanceId: string, name: string, caAccountId: string) {
  const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId, name, domains: [`${name}.example.com`], caAccountId, challenge: { type: "http-01", port: 80 } });
  expect(r.status).toBe(201);
}

describe("an EAB credential stays at its CA account's scope", () => {
  test("widening it on its own is 409 on field scope naming the CA account; nothing changes; moving the account carries it", async () => {
    const a = await addInstance(w, { group: "eabw-g", hostname: "eabw-host" });
    const groupCa = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "Widen Group CA", directoryUrl: "https://127.0.0.1:14000/dir", scope: "group", scopeId: "eabw-g", eab: { keyId: "kid-w", hmacKey: "aGVsbG8" } });
    const instanceCa = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "Widen Host CA", directoryUrl: "https://127.0.0.1:14000/dir", scope: "instance", scopeId: a.instanceId, eab: { keyId: "kid-h", hmacKey: "d29ybGQ" } });
    expect([groupCa.status, instanceCa.status]).toEqual([201, 201]);
    const groupEab = groupCa.body.eab.credentialId as string;
    const hostEab = instanceCa.body.eab.credentialId as string;
    // An instance receives an account's EAB only for the accounts its certificates use.
    await httpCertUsing(a.instanceId, "eabw-group", groupCa.body.id);
    await httpCertUsing(a.instanceId, "eabw-host", instanceCa.body.id);
    const sealedBefore = [await sealedRow(groupEab), await sealedRow(hostEab)];
    const versionsBefore = await versions([a.instanceId]);

    for (const [id, target, account, where] of [
      [groupEab, { scope: "global" }, `CA account "Widen Group CA" (${groupCa.body.id})`, 'group "eabw-g"'],
      [hostEab, { scope: "group", scopeId: "eabw-g" }, `CA account "Widen Host CA" (${instanceCa.body.id})`, `instance eabw-host (${a.instanceId})`],
      [hostEab, { scope: "global" }, `CA account "Widen Host CA" (${instanceCa.body.id})`, `instance eabw-host (${a.instanceId})`],
    ] as const) {
      const r = await call(w.admin, "PATCH", `/api/v1/credentials/${id}`, target);
      expect({ target, status: r.status, field: r.body.field }).toEqual({ target, status: 409, field: "scope" });
      expect(r.body.error).toContain("External Account Binding of " + account + " for " + where);
      expect(r.body.error).toContain("move the CA account instead");
    }
    // A title or secret sent with a refused move is not applied either.
    const withTitle = await call(w.admin, "PATCH", `/api/v1/credentials/${groupEab}`, { scope: "global", title: "sneaky" });
    expect(withTitle.status).toBe(409);

    expect((await call(w.admin, "GET", `/api/v1/credentials/${groupEab}`)).body).toMatchObject({ scope: "group", scopeId: "eabw-g", title: "EAB for Widen Group CA" });
    expect((await call(w.admin, "GET", `/api/v1/credentials/${hostEab}`)).body).toMatchObject({ scope: "instance", scopeId: a.instanceId });
    expect([await sealedRow(groupEab), await sealedRow(hostEab)]).toEqual(sealedBefore);
    expect(await versions([a.instanceId])).toEqual(versionsBefore);
    expect([...(await auditRows("credential.move", groupEab)), ...(await auditRows("credential.move", hostEab))]).toEqual([]);
    // Still what the instance receives for both accounts.
    const config = await syncConfig(a);
    expect(config!.caAccounts.find((x) => x.id === groupCa.body.id)!.eab).toEqual({ keyId: "kid-w", hmacKey: "aGVsbG8" });
    expect(config!.caAccounts.find((x) => x.id === instanceCa.body.id)!.eab).toEqual({ keyId: "kid-h", hmacKey: "d29ybGQ" });

    // The way to widen it: move the account; the credential follows and a same-scope PATCH is no move.
    expect((await call(w.admin, "PATCH", `/api/v1/ca-accounts/${groupCa.body.id}`, { scope: "global" })).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${groupEab}`)).body).toMatchObject({ scope: "global" });
    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${groupEab}`, { scope: "global" })).status).toBe(200);
  });

  test("one already wider than its account (made before this rule) may be moved back to the account's scope, not elsewhere", async () => {
    const a = await addInstance(w, { group: "eabb-g", hostname: "eabb-host" });
    const ca = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "Back CA", directoryUrl: "https://127.0.0.1:14000/dir", scope: "instance", scopeId: a.instanceId, eab: { keyId: "kid-b", hmacKey: "YmFjaw" } });
    const eabId = ca.body.eab.credentialId as string;
    await httpCertUsing(a.instanceId, "eabb-back", ca.body.id);
    // Put it at global behind the rules' back (as an older hub allowed), re-sealed for that scope.
    const row = await sealedRow(eabId);
    const key = w.hub.deps.secretKey;
    await w.hub.deps.db.transaction(async (tx) => {
      expect(await moveCredentialRow(tx, eabId, row, { scope: "global", scopeId: "", ciphertext: resealFor(key, row, { scope: "global", scopeId: "" }) })).toBe(true);
    });
    const toGroup = await call(w.admin, "PATCH", `/api/v1/credentials/${eabId}`, { scope: "group", scopeId: "eabb-g" });
    expect(toGroup.status).toBe(409);
    expect(toGroup.body.error).toContain('External Account Binding of CA account "Back CA"');
    const back = await call(w.admin, "PATCH", `/api/v1/credentials/${eabId}`, { scope: "instance", scopeId: a.instanceId });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ scope: "instance", scopeId: a.instanceId });
    expect((await syncConfig(a))!.caAccounts.find((x) => x.id === ca.body.id)!.eab).toEqual({ keyId: "kid-b", hmacKey: "YmFjaw" });
  });
});

describe("moving a CA account to another scope", () => {
  test("moves with its EAB credential (re-sealed); old scope's instances lose it, new scope's get it; stranding refused", async () => {
    const a = await addInstance(w, { group: "ca-g1", hostname: "ca-host-a" });
    const sameGroup = await addInstance(w, { group: "ca-g1" });
    const otherGroup = await addInstance(w, { group: "ca-g2" });
    const hmacKey = `EabMove${marker}`;
    const ca = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "Moving CA", directoryUrl: "https://127.0.0.1:14000/dir", scope: "instance", scopeId: a.instanceId, eab: { keyId: "kid-m", hmacKey } });
    expect(ca.status).toBe(201);
    const eabId = ca.body.eab.credentialId;
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: a.instanceId, name: "ca-mover", domains: ["ca-mover.example.com"], caAccountId: ca.body.id, challenge: { type: "http-01", port: 80 } });
    expect(cert.status).toBe(201);
    expect((await syncConfig(a))!.caAccounts.find((x) => x.id === ca.body.id)!.eab).toEqual({ keyId: "kid-m", hmacKey });
    expect((await syncConfig(sameGroup))!.caAccounts.map((x) => x.id)).not.toContain(ca.body.id);
    await syncConfig(otherGroup);

    // Refused: the certificate's instance is not in group ca-g2. Nothing changes.
    const eabBefore = await sealedRow(eabId);
    const before = await versions([a.instanceId, sameGroup.instanceId, otherGroup.instanceId]);
    const refused = await call(w.admin, "PATCH", `/api/v1/ca-accounts/${ca.body.id}`, { scope: "group", scopeId: "ca-g2" });
    expect(refused.status).toBe(409);
    expect(refused.body.field).toBe("scope");
    expect(refused.body.error).toContain('certificate "ca-mover"');
    expect(refused.body.error).toContain("ca-host-a");
    expect((await call(w.admin, "GET", `/api/v1/ca-accounts/${ca.body.id}`)).body).toMatchObject({ scope: "instance", scopeId: a.instanceId });
    expect(await sealedRow(eabId)).toEqual(eabBefore);
    expect(await versions([a.instanceId, sameGroup.instanceId, otherGroup.instanceId])).toEqual(before);
    expect(await auditRows("ca-account.move", ca.body.id)).toEqual([]);

    // To the certificate's group: the group's other instance now has it; the EAB moved along.
    const moved = await call(w.admin, "PATCH", `/api/v1/ca-accounts/${ca.body.id}`, { scope: "group", scopeId: "ca-g1", title: "Moving CA (g1)" });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ scope: "group", scopeId: "ca-g1", title: "Moving CA (g1)", eab: { credentialId: eabId } });
    expect((await call(w.admin, "GET", `/api/v1/credentials/${eabId}`)).body).toMatchObject({ scope: "group", scopeId: "ca-g1" });
    const eabAfter = await sealedRow(eabId);
    const key = w.hub.deps.secretKey;
    expect(() => open(key, eabAfter.ciphertext, credentialAad({ id: eabId, scope: "instance", scopeId: a.instanceId }))).toThrow(AeadError);
    expect((await syncConfig(a))!.caAccounts.find((x) => x.id === ca.body.id)!.eab).toEqual({ keyId: "kid-m", hmacKey });
    expect((await syncConfig(sameGroup))!.caAccounts.map((x) => x.id)).toContain(ca.body.id);
    expect(await syncConfig(otherGroup)).toBeNull();

    // To global: every instance has it.
    expect((await call(w.admin, "PATCH", `/api/v1/ca-accounts/${ca.body.id}`, { scope: "global" })).status).toBe(200);
    expect((await syncConfig(otherGroup))!.caAccounts.map((x) => x.id)).toContain(ca.body.id);
    expect((await syncConfig(a))!.caAccounts.find((x) => x.id === ca.body.id)!.eab).toEqual({ keyId: "kid-m", hmacKey });

    // Back to the certificate's own instance: the others lose it.
    expect((await call(w.admin, "PATCH", `/api/v1/ca-accounts/${ca.body.id}`, { scope: "instance", scopeId: a.instanceId })).status).toBe(200);
    expect((await syncConfig(otherGroup))!.caAccounts.map((x) => x.id)).not.toContain(ca.body.id);
    expect((await syncConfig(sameGroup))!.caAccounts.map((x) => x.id)).not.toContain(ca.body.id);
    expect((await syncConfig(a))!.caAccounts.find((x) => x.id === ca.body.id)!.eab).toEqual({ keyId: "kid-m", hmacKey });

    const moves = await auditRows("ca-account.move", ca.body.id);
    expect(moves.map((m) => [m.detail.from, m.detail.to])).toEqual([
      [{ scope: "global" }, { scope: "instance", scopeId: a.instanceId }],
      [{ scope: "group", scopeId: "ca-g1" }, { scope: "global" }],
      [{ scope: "instance", scopeId: a.instanceId }, { scope: "group", scopeId: "ca-g1" }],
    ]);
  });
});

describe("moves and the per-scope config cache", () => {
  test("with every config part cached, a CA account move is in the very next config of the old and the new scope's instances", async () => {
    const g1 = await addInstance(w, { group: "cache-g1" });
    const g2 = await addInstance(w, { group: "cache-g2" });
    const ca = await createCaAccount(w.admin, { title: "Cached CA", scope: "group", scopeId: "cache-g1" });
    const all = [g1, g2];
    for (const agent of all) await syncConfig(agent, { settingsVersion: 0 });
    await until("the change feed to catch up", () => all.every((x) => w.hub.deps.fleet.configCacheSafe(x.instanceId)));
    const cache = configCacheOf(w.hub.deps);
    const hits = cache.stats.hits;
    for (const agent of all) await syncConfig(agent, { settingsVersion: 0 });
    expect(cache.stats.hits).toBeGreaterThan(hits); // served from the cache, not re-read

    expect((await call(w.admin, "PATCH", `/api/v1/ca-accounts/${ca.id}`, { scope: "group", scopeId: "cache-g2" })).status).toBe(200);
    const nextG1 = await syncConfig(g1);
    const nextG2 = await syncConfig(g2);
    expect(nextG1).not.toBeNull();
    expect(nextG2).not.toBeNull();
    expect(nextG1!.caAccounts.map((a) => a.id)).not.toContain(ca.id);
    expect(nextG2!.caAccounts.map((a) => a.id)).toContain(ca.id);
  });

  test("with every config part cached, a credential moved out of a scope is not served from that scope's old part", async () => {
    // Global → group, then its secret replaced: a stale global part would still hold the old row.
    const g = await addInstance(w, { group: "cache-cred" });
    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "cached tsig", type: "tsig", scope: "global", secret: tsigSecret(`CacheOld${marker}`) });
    const ca = await createCaAccount(w.admin);
    await certUsing(g.instanceId, "cache-cred", ca.id, cred.body.id);
    await syncConfig(g, { settingsVersion: 0 });
    await until("the change feed to catch up", () => w.hub.deps.fleet.configCacheSafe(g.instanceId));
    const cache = configCacheOf(w.hub.deps);
    const hits = cache.stats.hits;
    await syncConfig(g, { settingsVersion: 0 });
    expect(cache.stats.hits).toBeGreaterThan(hits);

    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { scope: "group", scopeId: "cache-cred" })).status).toBe(200);
    expect((await syncConfig(g))!.credentials).toEqual([{ id: cred.body.id, type: "tsig", secret: tsigSecret(`CacheOld${marker}`) }]);
    expect((await call(w.admin, "PATCH", `/api/v1/credentials/${cred.body.id}`, { secret: tsigSecret(`CacheNew${marker}`) })).status).toBe(200);
    expect((await syncConfig(g))!.credentials).toEqual([{ id: cred.body.id, type: "tsig", secret: tsigSecret(`CacheNew${marker}`) }]);
  });
});

describe("moving something that was deleted", () => {
  test("a deleted credential or CA account is 404 with a clear error; it stays gone and no move is audited", async () => {
    const a = await addInstance(w, { group: "gone-g", hostname: "gone-host" });
    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "soon gone", type: "password", scope: "global", secret: { password: `Gone${marker}` } });
    expect(cred.status).toBe(201);
    const ca = await createCaAccount(w.admin, { title: "Soon gone CA", scope: "group", scopeId: "gone-g" });
    expect((await call(w.admin, "DELETE", `/api/v1/credentials/${cred.body.id}`)).status).toBe(200);
    expect((await call(w.admin, "DELETE", `/api/v1/ca-accounts/${ca.id}`)).status).toBe(200);

    const cases: [string, string, string, string][] = [
      [`/api/v1/credentials/${cred.body.id}`, cred.body.id, "credential.move", "credential"],
      [`/api/v1/ca-accounts/${ca.id}`, ca.id, "ca-account.move", "CA account"],
    ];
    for (const [path, id, action, noun] of cases) {
      for (const target of [{ scope: "global" }, { scope: "group", scopeId: "gone-g" }, { scope: "instance", scopeId: a.instanceId }]) {
        const r = await call(w.admin, "PATCH", path, target);
        expect({ path, target, status: r.status }).toEqual({ path, target, status: 404 });
        expect(r.body.error).toBe(`no ${noun} with id ${id}`);
      }
      expect((await call(w.admin, "GET", path)).status).toBe(404);
      expect(await auditRows(action, id)).toEqual([]);
    }
    // Nothing reappeared in a list or in the instance's config.
    expect((await call(w.admin, "GET", "/api/v1/credentials")).body.map((c: any) => c.id)).not.toContain(cred.body.id);
    expect((await call(w.admin, "GET", "/api/v1/ca-accounts")).body.map((c: any) => c.id)).not.toContain(ca.id);
    const config = await syncConfig(a, { settingsVersion: 0 });
    expect(config!.caAccounts.map((x) => x.id)).not.toContain(ca.id);
    expect(config!.credentials.map((x) => x.id)).not.toContain(cred.body.id);
  });
});
