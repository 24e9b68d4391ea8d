// Stored credentials are write-only and sealed: the plaintext is nowhere in hub.db (file, WAL
// and SHM bytes), in no API response, page or log line — and it does reach, decrypted, the
// sync config of exactly the instance whose certificate uses it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { settings } from "../../../src/db/schema";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "./fixtures";

let w: World;
const logged: string[] = [];
const originals = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };

beforeAll(async () => {
  // Everything the hub logs while this file runs is kept and searched for the secrets.
  for (const k of Object.keys(originals) as (keyof typeof originals)[]) {
    console[k] = (...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
      originals[k](...args);
    };
  }
  w = await startWorld();
});
afterAll(async () => {
  await w.hub.stop();
  Object.assign(console, originals);
});

const marker = Math.random().toString(36).slice(2, 10);
const SECRETS = {
  tsig: `TsigSecret${marker}Zq`,
  token: `webhook-token-${marker}`,
  hmac: `EabHmacKey_${marker}`,
  replaced: `TsigReplaced${marker}Qw`,
};
const containsSecret = (text: string) => Object.values(SECRETS).filter((s) => text.includes(s));

describe("stored credentials", () => {
  test("sealed at rest, never returned, sent decrypted only to the instance that uses them", async () => {
    const a = await addInstance(w, { group: "cred-g" });
    const b = await addInstance(w, { group: "cred-g" });
    const responses: string[] = [];
    const api = async (method: string, p: string, body?: unknown) => {
      const r = await call(w.admin, method, p, body);
      responses.push(r.text);
      return r;
    };

    const tsig = await api("POST", "/api/v1/credentials", { title: "ns1 TSIG", type: "tsig", scope: "group", scopeId: "cred-g", secret: { name: "acme-key.", algorithm: "hmac-sha256", secret: SECRETS.tsig } });
    expect(tsig.status).toBe(201);
    expect(tsig.body).toMatchObject({ title: "ns1 TSIG", type: "tsig", scope: "group", scopeId: "cred-g" });
    expect(tsig.body.secret).toBeUndefined();
    const token = await api("POST", "/api/v1/credentials", { title: "hook token", type: "api-token", scope: "global", secret: { token: SECRETS.token } });
    expect(token.status).toBe(201);
    expect(token.body.scopeId).toBeUndefined();

    const plainCa = await createCaAccount(w.admin, { title: "Plain CA" });
    const eabCa = await api("POST", "/api/v1/ca-accounts", { title: "EAB CA", directoryUrl: "https://127.0.0.1:14000/dir", email: "x@example.com", scope: "global", eab: { keyId: "kid-1", hmacKey: SECRETS.hmac } });
    expect(eabCa.status).toBe(201);
    expect(eabCa.body.eab.credentialId).toStartWith("cred_");

    const certA = await api("POST", "/api/v1/managed-certificates", {
      instanceId: a.instanceId,
      name: "wild",
      domains: ["*.example.com", "example.com"],
      caAccountId: eabCa.body.id,
      challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId: tsig.body.id },
      deployments: [{ type: "webhook", url: "https://127.0.0.1:9/hook", secretCredentialId: token.body.id }],
    });
    expect(certA.status).toBe(201);
    const certB = await api("POST", "/api/v1/managed-certificates", { instanceId: b.instanceId, name: "www", domains: ["www.example.org"], caAccountId: plainCa.id, challenge: { type: "http-01", port: 80 } });
    expect(certB.status).toBe(201);

    // Instance A's config carries exactly the secrets its certificate names, decrypted.
    const resA = await a.sync({ settingsVersion: 0 });
    const rawA = await resA.text();
    const cfgA = JSON.parse(rawA).config;
    expect(cfgA.credentials).toHaveLength(2);
    expect(cfgA.credentials.find((c: any) => c.id === tsig.body.id)).toEqual({ id: tsig.body.id, type: "tsig", secret: { name: "acme-key.", algorithm: "hmac-sha256", secret: SECRETS.tsig } });
    expect(cfgA.credentials.find((c: any) => c.id === token.body.id).secret).toEqual({ token: SECRETS.token });
    expect(cfgA.caAccounts.find((c: any) => c.id === eabCa.body.id).eab).toEqual({ keyId: "kid-1", hmacKey: SECRETS.hmac });
    expect(cfgA.certificates.map((c: any) => c.id)).toEqual([certA.body.id]);
    // Instance B (same group, so the TSIG credential is in its scope) gets none of them.
    const rawB = await (await b.sync({ settingsVersion: 0 })).text();
    const cfgB = JSON.parse(rawB).config;
    expect(cfgB.credentials).toEqual([]);
    expect(cfgB.caAccounts.find((c: any) => c.id === eabCa.body.id).eab).toBeUndefined();
    expect(containsSecret(rawB)).toEqual([]);

    // Lists say who uses each credential, without the secret.
    const list = await api("GET", "/api/v1/credentials");
    const tsigView = list.body.find((c: any) => c.id === tsig.body.id);
    expect(tsigView.usedBy.certificates).toEqual([{ id: certA.body.id, name: "wild", instanceId: a.instanceId }]);
    const eabView = list.body.find((c: any) => c.id === eabCa.body.eab.credentialId);
    expect(eabView).toMatchObject({ type: "eab", usedBy: { caAccounts: [{ id: eabCa.body.id, title: "EAB CA" }] } });
    const usable = await api("GET", `/api/v1/credentials?instanceId=${b.instanceId}`);
    expect(usable.body.map((c: any) => c.id)).toContain(tsig.body.id);

    // Replacing the secret: A (which uses it) gets the new one at its next sync; B nothing new.
    const put = await api("PUT", `/api/v1/credentials/${tsig.body.id}`, { secret: { name: "acme-key.", secret: SECRETS.replaced } });
    expect(put.status).toBe(200);
    const again = await syncConfig(a, { settingsVersion: cfgA.version });
    expect(again!.credentials.find((c: any) => c.id === tsig.body.id)!.secret.secret).toBe(SECRETS.replaced);
    expect((await b.sync({ settingsVersion: cfgB.version })).status).toBe(204);

    for (const p of ["/api/v1/credentials", `/api/v1/credentials/${tsig.body.id}`, "/api/v1/ca-accounts", `/api/v1/ca-accounts/${eabCa.body.id}`, "/api/v1/managed-certificates", `/api/v1/managed-certificates/${certA.body.id}`, "/api/v1/certificates", `/api/v1/instances/${a.instanceId}`, `/api/v1/instances/${a.instanceId}/settings`, "/api/v1/audit?limit=200"]) {
      const r = await api("GET", p);
      expect(r.status).toBe(200);
    }
    const pages: string[] = [];
    for (const p of ["/", "/certificates", "/settings", `/instances/${a.instanceId}`, "/audit", `/settings?instance=${a.instanceId}`]) {
      const r = await w.admin.fetch(p);
      expect(r.status).toBe(200);
      pages.push(await r.text());
    }
    expect(responses.flatMap(containsSecret)).toEqual([]);
    expect(pages.flatMap(containsSecret)).toEqual([]);

    // The database file and its WAL/SHM side files, byte for byte.
    const dbFile = path.join(w.hub.dataDir, "hub.db");
    let titleSeen = false;
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
      if (!existsSync(f)) continue;
      const bytes = readFileSync(f);
      for (const s of Object.values(SECRETS)) expect(bytes.includes(Buffer.from(s))).toBe(false);
      titleSeen ||= bytes.includes(Buffer.from("ns1 TSIG"));
    }
    expect(titleSeen).toBe(true); // control: what is stored in clear (the title) is found this way
    expect(existsSync(`${dbFile}-wal`)).toBe(true); // the check above did look at the WAL
    expect(logged.flatMap(containsSecret)).toEqual([]);
  });

  test("a credential still in use cannot be deleted (409 naming the user); nothing is lost; unused ones can", async () => {
    const inst = await addInstance(w);
    const ca = await createCaAccount(w.admin);
    const pw = await call(w.admin, "POST", "/api/v1/credentials", { title: "pfx password", type: "password", scope: "instance", scopeId: inst.instanceId, secret: { password: `pfx-${marker}` } });
    expect(pw.status).toBe(201);
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", {
      instanceId: inst.instanceId,
      name: "iis",
      domains: ["iis.example.net"],
      caAccountId: ca.id,
      challenge: { type: "http-01", webroot: "/var/www/html" },
      deployments: [{ type: "pfx", path: "/etc/ssl/site.pfx", passwordCredentialId: pw.body.id }],
    });
    expect(cert.status).toBe(201);

    const refused = await call(w.admin, "DELETE", `/api/v1/credentials/${pw.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain('certificate "iis"');
    expect((await call(w.admin, "GET", `/api/v1/credentials/${pw.body.id}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${cert.body.id}`)).status).toBe(200);
    const cfg = await syncConfig(inst);
    expect(cfg!.credentials.map((c) => c.id)).toEqual([pw.body.id]);

    // The EAB credential of a CA account goes with the account, not on its own.
    const eabCa = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "ZeroSSL", preset: "zerossl", scope: "global", eab: { keyId: "k", hmacKey: "aGVsbG8" } });
    expect(eabCa.status).toBe(201);
    const eabDel = await call(w.admin, "DELETE", `/api/v1/credentials/${eabCa.body.eab.credentialId}`);
    expect(eabDel.status).toBe(409);
    expect(eabDel.body.error).toContain('CA account "ZeroSSL"');

    expect((await call(w.admin, "DELETE", `/api/v1/managed-certificates/${cert.body.id}`)).status).toBe(200);
    expect((await call(w.admin, "DELETE", `/api/v1/credentials/${pw.body.id}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${pw.body.id}`)).status).toBe(404);
    expect((await call(w.admin, "DELETE", `/api/v1/ca-accounts/${eabCa.body.id}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${eabCa.body.eab.credentialId}`)).status).toBe(404);
  });

  test("removing an instance removes what was defined at its scope (secrets included), nothing wider", async () => {
    const inst = await addInstance(w);
    const own = await call(w.admin, "POST", "/api/v1/credentials", { title: "own", type: "password", scope: "instance", scopeId: inst.instanceId, secret: { password: "p" } });
    const ownCa = await createCaAccount(w.admin, { scope: "instance", scopeId: inst.instanceId });
    const global = await call(w.admin, "POST", "/api/v1/credentials", { title: "shared", type: "password", scope: "global", secret: { password: "p" } });
    expect((await call(w.admin, "PUT", "/api/v1/settings/renewalDaysBeforeExpiry", { scope: "instance", scopeId: inst.instanceId, value: 10 })).status).toBe(200);
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: inst.instanceId, name: "gone", domains: ["gone.example.com"], caAccountId: ownCa.id, challenge: { type: "http-01" } });
    expect(cert.status).toBe(201);

    expect((await call(w.admin, "DELETE", `/api/v1/instances/${inst.instanceId}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${own.body.id}`)).status).toBe(404);
    expect((await call(w.admin, "GET", `/api/v1/ca-accounts/${ownCa.id}`)).status).toBe(404);
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${cert.body.id}`)).status).toBe(404);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${global.body.id}`)).status).toBe(200);
    const left = await w.hub.deps.db.select().from(settings).where(eq(settings.scopeId, inst.instanceId));
    expect(left).toEqual([]);
  });

  test("secrets are checked per type; a wrong shape is 400 and stores nothing", async () => {
    const before = (await call(w.admin, "GET", "/api/v1/credentials")).body.length;
    const bad = [
      { title: "t", type: "tsig", scope: "global", secret: { name: "k.", secret: "not base64!" } },
      { title: "t", type: "username-password", scope: "global", secret: { username: "u" } },
      { title: "t", type: "api-token", scope: "global", secret: { token: "x", extra: 1 } },
      { title: "t", type: "smtp", scope: "global", secret: { password: "x" } },
      { title: "t", type: "password", scope: "instance", secret: { password: "x" } },
    ];
    for (const body of bad) {
      const r = await call(w.admin, "POST", "/api/v1/credentials", body);
      expect(r.status).toBe(400);
      expect(typeof r.body.error).toBe("string");
    }
    expect((await call(w.admin, "GET", "/api/v1/credentials")).body.length).toBe(before);
  });
});
