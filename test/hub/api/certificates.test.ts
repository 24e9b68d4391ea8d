// The contract's "Certificates" and "Settings and external certificate managers" endpoints,
// end to end over HTTP against an in-process hub, with a fake agent reporting back: shapes,
// status words and codes, bad input (clear 4xx, nothing else lost), read-only access.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { basicAuth } from "../../helpers/session";
import { tempDir } from "../../helpers";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../core/fixtures";

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.hub.stop());

const now = Date.now();
const DAY = 86_400_000;

function selfSignedPem(): string {
  const dir = tempDir("certhub-pem-");
  const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=Test Root", "-days", "2", "-keyout", `${dir}/k.pem`, "-out", `${dir}/c.pem`]);
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return require("node:fs").readFileSync(`${dir}/c.pem`, "utf8");
}

describe("CA accounts", () => {
  test("presets, create with a preset or a custom https URL with trusted roots, list, update, delete", async () => {
    const presets = await call(w.admin, "GET", "/api/v1/ca-accounts/presets");
    expect(presets.status).toBe(200);
    expect(presets.body.map((p: any) => p.id)).toEqual(expect.arrayContaining(["letsencrypt", "letsencrypt-staging", "zerossl", "google", "buypass"]));
    expect(presets.body.find((p: any) => p.id === "letsencrypt").directoryUrl).toBe("https://acme-v02.api.letsencrypt.org/directory");

    const le = await call(w.admin, "POST", "/api/v1/ca-accounts", { preset: "letsencrypt-staging", email: "ops@example.com", scope: "global" });
    expect(le.status).toBe(201);
    expect(le.body).toMatchObject({ title: "Let's Encrypt (staging)", directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory", preset: "letsencrypt-staging", email: "ops@example.com", scope: "global", eab: null });

    const pem = selfSignedPem();
    const custom = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "step-ca", directoryUrl: "https://ca.internal:9000/acme/acme/directory", email: "pki@example.com", scope: "group", scopeId: "dc1", trustedRootsPem: pem });
    expect(custom.status).toBe(201);
    expect(custom.body.id).toStartWith("ca_");
    expect(custom.body).toMatchObject({ scope: "group", scopeId: "dc1", preset: null });
    expect(custom.body.trustedRootsPem).toContain("BEGIN CERTIFICATE");

    const put = await call(w.admin, "PUT", `/api/v1/ca-accounts/${custom.body.id}`, { title: "step-ca (dc1)", trustedRootsPem: null });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ title: "step-ca (dc1)", trustedRootsPem: null });

    const inDc1 = await addInstance(w, { group: "dc1" });
    const elsewhere = await addInstance(w, { group: "dc2" });
    const listed = async (id: string) => (await call(w.admin, "GET", `/api/v1/ca-accounts?instanceId=${id}`)).body.map((a: any) => a.id);
    expect(await listed(inDc1.instanceId)).toEqual(expect.arrayContaining([le.body.id, custom.body.id]));
    expect(await listed(elsewhere.instanceId)).not.toContain(custom.body.id);
    // ... and only the dc1 instance's config has it.
    expect((await syncConfig(inDc1))!.caAccounts.map((a) => a.id)).toContain(custom.body.id);
    expect((await syncConfig(elsewhere))!.caAccounts.map((a) => a.id)).not.toContain(custom.body.id);

    expect((await call(w.admin, "DELETE", `/api/v1/ca-accounts/${custom.body.id}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/ca-accounts/${custom.body.id}`)).status).toBe(404);
    expect((await syncConfig(inDc1))!.caAccounts.map((a) => a.id)).not.toContain(custom.body.id);
  });

  test("bad directory URLs, bad PEM and unknown presets are 400 with the reason; nothing is stored", async () => {
    const before = (await call(w.admin, "GET", "/api/v1/ca-accounts")).body.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ directoryUrl: "ftp://ca.example.com/dir" }, "must use https://"],
      [{ directoryUrl: "http://ca.example.com/dir" }, "must use https://"],
      [{ directoryUrl: "not a url" }, "is not a URL"],
      [{ directoryUrl: "https://ca.example.com/dir", trustedRootsPem: "hello" }, "no PEM certificate"],
      [{ directoryUrl: "https://ca.example.com/dir", trustedRootsPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }, "cannot be parsed"],
      [{ directoryUrl: "https://ca.example.com/dir", trustedRootsPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }, "private key"],
      [{ preset: "nope", directoryUrl: undefined }, 'unknown preset "nope"'],
      [{ directoryUrl: "https://ca.example.com/dir", email: "not-an-email" }, "email"],
    ];
    for (const [patch, message] of cases) {
      const r = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "x", scope: "global", ...patch });
      expect(r.status).toBe(400);
      expect(r.body.error).toContain(message);
    }
    // http is fine for a CA on the loopback (a local test CA).
    const local = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "local", directoryUrl: "http://127.0.0.1:4001/directory", scope: "global" });
    expect(local.status).toBe(201);
    expect((await call(w.admin, "GET", "/api/v1/ca-accounts")).body.length).toBe(before + 1);
  });
});

describe("managed certificates", () => {
  test("create → pending in every list; agent receives the definition; reports drive status, attempts, deployments, registration", async () => {
    const agent = await addInstance(w, { hostname: "web-01" });
    const ca = await createCaAccount(w.admin);
    const created = await call(w.admin, "POST", "/api/v1/managed-certificates", {
      instanceId: agent.instanceId,
      name: "site",
      domains: ["Example.COM", "www.example.com"],
      caAccountId: ca.id,
      challenge: { type: "http-01", port: 8080 },
      deployments: [{ type: "pem", directory: "/etc/ssl/site", mode: "0640" }],
      verify: { host: "127.0.0.1", port: 8443 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ instanceId: agent.instanceId, name: "site", domains: ["example.com", "www.example.com"], keyType: "ecdsa-p256", status: "pending", revision: 1, serial: null, attempts: [], served: null });

    const one = await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`);
    expect(one.body).toMatchObject({ status: "pending", nextRenewalAt: null, lastError: null, notAfter: null, accountRegistration: null });
    expect(one.body.deployments).toEqual([expect.objectContaining({ type: "pem", directory: "/etc/ssl/site", lastResult: null })]);
    const filtered = await call(w.admin, "GET", `/api/v1/managed-certificates?instanceId=${agent.instanceId}`);
    expect(filtered.body.map((c: any) => c.id)).toEqual([id]);
    const all = await call(w.admin, "GET", `/api/v1/certificates?instanceId=${agent.instanceId}`);
    expect(all.body).toEqual([expect.objectContaining({ id, instanceId: agent.instanceId, domains: ["example.com", "www.example.com"], source: "managed", status: "pending", notAfter: null })]);

    const cfg = (await syncConfig(agent))!;
    expect(cfg.certificates).toEqual([expect.objectContaining({ id, revision: 1, domains: ["example.com", "www.example.com"], caAccountId: ca.id, challenge: { type: "http-01", port: 8080 } })]);
    expect(cfg.caAccounts.map((a) => a.id)).toContain(ca.id);

    // A report before the agent has handled the definition keeps it listed as pending.
    let r = await agent.sync({ settingsVersion: cfg.version, certificatesHash: "h0", certificates: [] });
    expect(r.status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/certificates?instanceId=${agent.instanceId}`)).body.map((c: any) => [c.id, c.status])).toEqual([[id, "pending"]]);

    // The agent issues it and reports: managed + an external certbot certificate + registration + scans.
    const attempts = [
      { at: now - 2 * DAY, kind: "issue", outcome: "failed", message: "urn:ietf:params:acme:error:connection: Connection refused", steps: [{ name: "challenge", outcome: "failed", ms: 120, domain: "example.com", message: "Connection refused" }] },
      { at: now - DAY, kind: "issue", outcome: "succeeded", message: "issued", serial: "0a1b2c", steps: [{ name: "order", outcome: "ok", ms: 30 }] },
    ];
    r = await agent.sync({
      settingsVersion: cfg.version,
      certificatesHash: "h1",
      certificates: [
        { id, name: "site", domains: ["example.com", "www.example.com"], source: "managed", status: "valid", notBefore: now - DAY, notAfter: now + 89 * DAY, serial: "0a1b2c", issuer: "CN=Pebble Intermediate CA", nextRenewalAt: now + 59 * DAY, renewalReason: "lifetime", failureCount: 0, attempts, deployments: [{ index: 0, type: "pem", lastResult: { at: now - DAY, outcome: "succeeded", message: "4 files written" } }], served: "served", revision: 1 },
        { id: "certbot:example.net", name: "example.net", domains: ["example.net"], source: "certbot", status: "valid", notAfter: now + 30 * DAY, serial: "ff01", issuer: "CN=R11", paths: { cert: "/etc/letsencrypt/live/example.net/cert.pem" }, identifier: "example.net" },
        { id: "mc_deleted_long_ago", name: "ghost", domains: ["ghost.example.com"], source: "managed", status: "valid" },
      ],
      accounts: [{ caAccountId: ca.id, status: "registered", accountUrl: "https://127.0.0.1:14000/my-account/1", at: now - DAY }],
      externalManagers: [
        { name: "certbot", status: "ok", configPath: "/etc/letsencrypt", certificateCount: 1, scannedAt: now, problems: [] },
        { name: "acme.sh", status: "error", configPath: "/root/.acme.sh", certificateCount: 0, scannedAt: now, problems: ["cannot read /root/.acme.sh: permission denied — run the agent as root or grant read access"] },
      ],
    });
    expect(r.status).toBe(200);
    expect((await r.json()).certificatesHash).toBe("h1");

    const detail = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    expect(detail).toMatchObject({ status: "valid", serial: "0a1b2c", issuer: "CN=Pebble Intermediate CA", notBefore: now - DAY, notAfter: now + 89 * DAY, nextRenewalAt: now + 59 * DAY, renewalReason: "lifetime", lastError: null, served: "served" });
    expect(detail.attempts.map((a: any) => a.outcome)).toEqual(["succeeded", "failed"]); // newest first
    expect(detail.attempts[1].message).toContain("Connection refused");
    expect(detail.deployments[0].lastResult).toEqual({ at: now - DAY, outcome: "succeeded", message: "4 files written" });
    expect(detail.accountRegistration).toMatchObject({ status: "registered", accountUrl: "https://127.0.0.1:14000/my-account/1" });

    const certs = (await call(w.admin, "GET", `/api/v1/certificates?instanceId=${agent.instanceId}`)).body;
    expect(certs.map((c: any) => [c.id, c.source, c.status]).sort()).toEqual([["certbot:example.net", "certbot", "valid"], [id, "managed", "valid"]].sort());

    const inst = (await call(w.admin, "GET", `/api/v1/instances/${agent.instanceId}`)).body;
    expect(inst.externalManagers.map((m: any) => m.name)).toEqual(["certbot", "acme.sh", "posh-acme", "simple-acme", "win-acme"]);
    expect(inst.externalManagers[0]).toEqual({ name: "certbot", status: "ok", configPath: "/etc/letsencrypt", certificateCount: 1, scannedAt: now, problems: [] });
    expect(inst.externalManagers[1].problems[0]).toContain("permission denied");
    expect(inst.externalManagers[2]).toEqual({ name: "posh-acme", status: "not-found", configPath: null, certificateCount: 0, scannedAt: null, problems: [] });

    // Edit: revision 2 reaches the agent; delete: gone from lists, and a late report of it is dropped.
    const edited = await call(w.admin, "PUT", `/api/v1/managed-certificates/${id}`, { domains: ["example.com"], keyType: "rsa-3072" });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ revision: 2, domains: ["example.com"], keyType: "rsa-3072", status: "valid" });
    const cfg2 = (await syncConfig(agent))!;
    expect(cfg2.certificates[0]).toMatchObject({ id, revision: 2, keyType: "rsa-3072", domains: ["example.com"] });
    expect((await call(w.admin, "DELETE", `/api/v1/managed-certificates/${id}`)).status).toBe(200);
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).status).toBe(404);
    expect((await syncConfig(agent))!.certificates).toEqual([]);
    await agent.sync({ settingsVersion: cfg2.version + 1, certificatesHash: "h2", certificates: [{ id, name: "site", domains: ["example.com"], source: "managed", status: "valid" }] });
    expect((await call(w.admin, "GET", `/api/v1/certificates?instanceId=${agent.instanceId}`)).body.map((c: any) => c.id)).toEqual([]);
  });

  test("renew, test, deploy and external-refresh are 202 and reach the agent as commands", async () => {
    const agent = await addInstance(w);
    const ca = await createCaAccount(w.admin);
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: agent.instanceId, name: "c", domains: ["c.example.com"], caAccountId: ca.id, challenge: { type: "http-01" } });
    expect(cert.status).toBe(201);
    const queued = [];
    for (const action of ["renew", "test", "deploy"]) {
      const r = await call(w.admin, "POST", `/api/v1/managed-certificates/${cert.body.id}/${action}`);
      expect(r.status).toBe(202);
      expect(r.body.commandId).toStartWith("cmd_");
      expect(r.body).toMatchObject({ status: "queued", type: `${action}-certificate` });
      queued.push(r.body.commandId);
    }
    const refresh = await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/external-refresh`);
    expect(refresh.status).toBe(202);
    expect(refresh.body.type).toBe("refresh-external-scan");
    const body = await (await agent.sync({ settingsVersion: 0 })).json();
    expect(body.commands.map((c: any) => [c.type, c.payload])).toEqual([
      ["renew-certificate", { certificateId: cert.body.id }],
      ["test-certificate", { certificateId: cert.body.id }],
      ["deploy-certificate", { certificateId: cert.body.id }],
      ["refresh-external-scan", {}],
    ]);
    // Every one of them is in the audit log under the admin's name.
    const audit = (await call(w.admin, "GET", "/api/v1/audit?q=instance.command&limit=200")).body;
    for (const commandId of queued) expect(audit.some((e: any) => e.actorLabel === "admin" && e.detail?.commandId === commandId)).toBe(true);
    // Through the generic commands endpoint the payload must name a certificate of this instance.
    const generic = await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/commands`, { type: "renew-certificate", payload: { certificateId: cert.body.id } });
    expect(generic.status).toBe(202);
    for (const payload of [{}, { certificateId: "mc_elsewhere" }, { certificateId: cert.body.id, extra: true }]) {
      const r = await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/commands`, { type: "deploy-certificate", payload });
      expect(r.status).toBe(400);
    }
    expect((await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/commands`, { type: "renew-now", payload: { certificateId: "mc_elsewhere" } })).status).toBe(400);
    expect((await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/renew-now`)).status).toBe(202);

    // A report with a status word outside the contract is refused whole; the stored list stays.
    const bogus = await agent.sync({ settingsVersion: 0, certificatesHash: "bogus", certificates: [{ id: cert.body.id, name: "c", domains: ["c.example.com"], source: "managed", status: "fine" }] });
    expect(bogus.status).toBe(400);
    expect((await call(w.admin, "GET", `/api/v1/certificates?instanceId=${agent.instanceId}`)).body.map((x: any) => x.status)).toEqual(["pending"]);

    expect((await call(w.admin, "POST", "/api/v1/managed-certificates/mc_nope/renew")).status).toBe(404);
    expect((await call(w.admin, "POST", "/api/v1/instances/inst_nope/external-refresh")).status).toBe(404);
  });

  test("Test task: POST …/tasks/{index}/test is 202 and reaches the agent as test-task {certificateId, index}; the index is checked; the agent's lastTest shows per task", async () => {
    const agent = await addInstance(w);
    const ca = await createCaAccount(w.admin);
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", {
      instanceId: agent.instanceId, name: "t", domains: ["t.example.com"], caAccountId: ca.id, challenge: { type: "http-01" },
      deployments: [{ type: "pem", directory: "/etc/ssl/t" }, { type: "wait", seconds: 1 }],
    });
    expect(cert.status).toBe(201);
    const id = cert.body.id;
    const r = await call(w.admin, "POST", `/api/v1/managed-certificates/${id}/tasks/1/test`);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ type: "test-task", status: "queued", certificateId: id, index: 1 });
    expect((await call(w.admin, "POST", `/api/v1/managed-certificates/${id}/tasks/2/test`)).status).toBe(404);
    expect((await call(w.admin, "POST", `/api/v1/managed-certificates/${id}/tasks/-1/test`)).status).toBe(400);
    expect((await call(w.admin, "POST", "/api/v1/managed-certificates/mc_nope/tasks/0/test")).status).toBe(404);
    // the generic commands endpoint applies the same checks
    const generic = await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/commands`, { type: "test-task", payload: { certificateId: id, index: 0 } });
    expect(generic.status).toBe(202);
    for (const payload of [{ certificateId: id }, { certificateId: id, index: 5 }, { certificateId: "mc_elsewhere", index: 0 }, { certificateId: id, index: 0, extra: 1 }]) {
      expect((await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/commands`, { type: "test-task", payload })).status).not.toBe(202);
    }
    const body = await (await agent.sync({ settingsVersion: 0 })).json();
    expect(body.commands.map((c: any) => [c.type, c.payload])).toEqual([
      ["test-task", { certificateId: id, index: 1 }],
      ["test-task", { certificateId: id, index: 0 }],
    ]);
    // The agent reports the test apart from the deployment result.
    const now = Date.now();
    const test = { at: now, outcome: "succeeded", message: "waited 1 s", ms: 1003 };
    const sent = await agent.sync({ settingsVersion: 0, certificatesHash: "t1", certificates: [{ id, name: "t", domains: ["t.example.com"], source: "managed", status: "valid", deployments: [{ index: 1, type: "wait", lastResult: null, lastTest: test }] }] });
    expect(sent.status).toBe(200);
    const view = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    expect(view.deployments.map((d: any) => [d.lastResult, d.lastTest])).toEqual([[null, null], [null, test]]);
  });

  test("bad input gets a clear 4xx and loses nothing: invalid domain, wildcard with http-01, unknown or out-of-scope CA account or credential, revoked instance", async () => {
    const agent = await addInstance(w, { group: "bad-g" });
    const other = await addInstance(w);
    const ca = await createCaAccount(w.admin);
    const foreignCa = await createCaAccount(w.admin, { scope: "instance", scopeId: other.instanceId });
    const tsigOther = await call(w.admin, "POST", "/api/v1/credentials", { title: "other tsig", type: "tsig", scope: "instance", scopeId: other.instanceId, secret: { name: "k.", secret: "c2VjcmV0" } });
    const token = await call(w.admin, "POST", "/api/v1/credentials", { title: "a token", type: "api-token", scope: "global", secret: { token: "t" } });
    const good = { instanceId: agent.instanceId, name: "ok", domains: ["ok.example.com"], caAccountId: ca.id, challenge: { type: "http-01" } };
    const keep = await call(w.admin, "POST", "/api/v1/managed-certificates", good);
    expect(keep.status).toBe(201);

    const cases: [Record<string, unknown>, number, string][] = [
      [{ domains: ["not a domain"] }, 400, "not a valid domain name"],
      [{ domains: ["exa_mple.com"] }, 400, "not a valid domain name"],
      [{ domains: [] }, 400, "at least one domain"],
      [{ domains: ["*.example.com"], challenge: { type: "http-01", port: 80 } }, 400, "*.example.com: a wildcard name can only be validated with a dns-01 challenge"],
      [{ caAccountId: "ca_missing" }, 400, "no CA account with id ca_missing"],
      [{ caAccountId: foreignCa.id }, 400, "not available to instance"],
      [{ challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:53", credentialId: "cred_missing" } }, 400, "no stored credential with id cred_missing"],
      [{ challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:53", credentialId: tsigOther.body.id } }, 400, "not available to instance"],
      [{ challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:53", credentialId: token.body.id } }, 400, "is of type api-token; this needs tsig"],
      [{ challenge: { type: "tls-alpn-01" } }, 400, "challenge"],
      [{ keyType: "dsa-1024" }, 400, "keyType"],
      [{ instanceId: "inst_missing" }, 400, "no instance with id inst_missing"],
      [{ deployments: [{ type: "pem", directory: "relative/dir" }] }, 400, "absolute path"],
    ];
    for (const [patch, status, message] of cases) {
      const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...good, ...patch });
      expect({ patch, status: r.status }).toEqual({ patch, status });
      expect(r.body.error).toContain(message);
    }
    const badEdit = await call(w.admin, "PUT", `/api/v1/managed-certificates/${keep.body.id}`, { domains: ["*.example.com"] });
    expect(badEdit.status).toBe(400);
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${keep.body.id}`)).body).toMatchObject({ revision: 1, domains: ["ok.example.com"] });

    // Deleting a CA account in use is refused.
    const caDel = await call(w.admin, "DELETE", `/api/v1/ca-accounts/${ca.id}`);
    expect(caDel.status).toBe(409);
    expect(caDel.body.error).toContain('"ok"');

    // A revoked instance takes no new certificates and no actions; its definitions stay.
    expect((await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/revoke`)).status).toBe(200);
    const refused = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...good, name: "late" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain("is revoked; reinstate it first");
    expect((await call(w.admin, "POST", `/api/v1/managed-certificates/${keep.body.id}/renew`)).status).toBe(409);
    expect((await call(w.admin, "POST", `/api/v1/instances/${agent.instanceId}/external-refresh`)).status).toBe(409);
    const left = (await call(w.admin, "GET", `/api/v1/managed-certificates?instanceId=${agent.instanceId}`)).body;
    expect(left.map((c: any) => c.name)).toEqual(["ok"]);

    // An instance whose joining key was revoked is cut off: the same refusal, with that reason.
    const key = await call(w.admin, "POST", "/api/v1/tokens", { title: "cut-off key" });
    const cutOff = await addInstance(w, { joiningKeyId: key.body.id });
    expect((await call(w.admin, "POST", `/api/v1/tokens/${key.body.clientId}/revoke`)).status).toBe(200);
    const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...good, instanceId: cutOff.instanceId });
    expect(r.status).toBe(409);
    expect(r.body.error).toContain(`is cut off: its joining key ${key.body.clientId} was revoked`);
  });
});

describe("post-deploy verification without a host", () => {
  test("needs a domain that is not a wildcard: all wildcards and no host is 400 naming verify.host, on create and on edit; a host or one plain domain is fine", async () => {
    const agent = await addInstance(w, { group: "verify-g" });
    const ca = await createCaAccount(w.admin);
    const tsig = await call(w.admin, "POST", "/api/v1/credentials", { title: "verify tsig", type: "tsig", scope: "global", secret: { name: "k.", secret: "c2VjcmV0" } });
    const dns = { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:53", credentialId: tsig.body.id };
    const wild = { instanceId: agent.instanceId, name: "wild", domains: ["*.example.com", "*.example.org"], caAccountId: ca.id, challenge: dns };
    const before = (await call(w.admin, "GET", `/api/v1/managed-certificates?instanceId=${agent.instanceId}`)).body.length;

    for (const verify of [{ port: 443 }, { host: "", port: 8443 }, { host: "   ", port: 443 }]) {
      const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...wild, verify });
      expect({ verify, status: r.status }).toEqual({ verify, status: 400 });
      expect(r.body).toEqual({ error: "verify.host: every domain is a wildcard: give the host to check", field: "verify.host" });
    }
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates?instanceId=${agent.instanceId}`)).body.length).toBe(before);

    // With a host named, or one domain the check can default to, it is accepted and kept as sent.
    const named = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...wild, verify: { host: "www.example.com", port: 443 } });
    expect(named.status).toBe(201);
    const mixed = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...wild, name: "mixed", domains: ["*.example.com", "example.com"], verify: { port: 443 } });
    expect(mixed.status).toBe(201);
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${mixed.body.id}`)).body.verify).toEqual({ host: "", port: 443 });

    // An edit that leaves only wildcards (or drops the host) is refused the same way and changes nothing.
    const dropPlain = await call(w.admin, "PUT", `/api/v1/managed-certificates/${mixed.body.id}`, { domains: ["*.example.com"] });
    expect(dropPlain.status).toBe(400);
    expect(dropPlain.body.field).toBe("verify.host");
    const dropHost = await call(w.admin, "PUT", `/api/v1/managed-certificates/${named.body.id}`, { verify: { host: "", port: 443 } });
    expect(dropHost.status).toBe(400);
    expect(dropHost.body.error).toBe("verify.host: every domain is a wildcard: give the host to check");
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${mixed.body.id}`)).body).toMatchObject({ revision: 1, domains: ["*.example.com", "example.com"] });
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${named.body.id}`)).body).toMatchObject({ revision: 1, verify: { host: "www.example.com", port: 443 } });
    // Without a check at all, wildcards alone are fine.
    expect((await call(w.admin, "PUT", `/api/v1/managed-certificates/${named.body.id}`, { verify: null })).status).toBe(200);
  });
});

describe("external managers", () => {
  test("before any report each client shows its configured state; the setting travels to the agent", async () => {
    const agent = await addInstance(w);
    const setting = { "win-acme": { enabled: false }, certbot: { enabled: true, configPath: "/srv/letsencrypt", logPath: "/srv/log/letsencrypt" } };
    const put = await call(w.admin, "PUT", "/api/v1/settings/externalManagers", { scope: "instance", scopeId: agent.instanceId, value: setting });
    expect(put.status).toBe(200);
    const view = (await call(w.admin, "GET", `/api/v1/instances/${agent.instanceId}`)).body.externalManagers;
    expect(view.find((m: any) => m.name === "win-acme")).toMatchObject({ status: "disabled", scannedAt: null });
    expect(view.find((m: any) => m.name === "certbot")).toMatchObject({ status: "not-found", configPath: "/srv/letsencrypt", scannedAt: null, problems: [] });
    expect((await syncConfig(agent))!.settings.externalManagers).toEqual(setting);
    const eff = (await call(w.admin, "GET", `/api/v1/instances/${agent.instanceId}/settings`)).body.find((e: any) => e.key === "externalManagers");
    expect(eff).toMatchObject({ scope: "instance", scopeId: agent.instanceId, value: setting });
    const audit = (await call(w.admin, "GET", "/api/v1/audit?q=setting.set&limit=200")).body;
    expect(audit.some((e: any) => e.targetId === "externalManagers" && e.actorLabel === "admin")).toBe(true);
  });
});

describe("read-only access", () => {
  test("a readonly token reads everything but secrets and changes nothing", async () => {
    const inst = await addInstance(w);
    const ca = await createCaAccount(w.admin);
    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "ro-visible", type: "password", scope: "global", secret: { password: "ro-hidden-pw" } });
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: inst.instanceId, name: "ro", domains: ["ro.example.com"], caAccountId: ca.id, challenge: { type: "http-01" } });
    const tok = await call(w.admin, "POST", "/api/v1/tokens", { title: "viewer", role: "readonly" });
    expect(tok.status).toBe(201);
    const h = basicAuth(tok.body.clientId, tok.body.secret);
    const get = async (p: string) => {
      const r = await fetch(`${w.hub.url}${p}`, { headers: h });
      expect({ p, status: r.status }).toEqual({ p, status: 200 });
      return r.text();
    };
    const texts = await Promise.all(["/api/v1/credentials", "/api/v1/ca-accounts", "/api/v1/ca-accounts/presets", "/api/v1/managed-certificates", `/api/v1/managed-certificates/${cert.body.id}`, "/api/v1/certificates", "/api/v1/settings", `/api/v1/instances/${inst.instanceId}/settings`, `/api/v1/instances/${inst.instanceId}`].map(get));
    expect(texts.join("\n")).toContain("ro-visible");
    expect(texts.join("\n")).not.toContain("ro-hidden-pw");

    const writes: [string, string, unknown?][] = [
      ["POST", "/api/v1/credentials", { title: "x", type: "password", scope: "global", secret: { password: "p" } }],
      ["PUT", `/api/v1/credentials/${cred.body.id}`, { title: "renamed" }],
      ["DELETE", `/api/v1/credentials/${cred.body.id}`],
      ["POST", "/api/v1/ca-accounts", { preset: "letsencrypt", scope: "global" }],
      ["DELETE", `/api/v1/ca-accounts/${ca.id}`],
      ["POST", "/api/v1/managed-certificates", { instanceId: inst.instanceId, name: "x", domains: ["x.example.com"], caAccountId: ca.id, challenge: { type: "http-01" } }],
      ["PUT", `/api/v1/managed-certificates/${cert.body.id}`, { name: "renamed" }],
      ["DELETE", `/api/v1/managed-certificates/${cert.body.id}`],
      ["POST", `/api/v1/managed-certificates/${cert.body.id}/renew`],
      ["PUT", "/api/v1/settings/defaultKeyType", { scope: "global", value: "rsa-2048" }],
      ["DELETE", "/api/v1/settings/defaultKeyType?scope=global"],
      ["POST", `/api/v1/instances/${inst.instanceId}/external-refresh`],
    ];
    for (const [method, p, body] of writes) {
      const r = await fetch(`${w.hub.url}${p}`, { method, headers: { ...h, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect({ method, p, status: r.status }).toEqual({ method, p, status: 403 });
      expect((await r.json()).error).toContain("read-only");
    }
    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.body.id}`)).body.title).toBe("ro-visible");
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${cert.body.id}`)).body).toMatchObject({ name: "ro", revision: 1 });
    const cmds = (await call(w.admin, "GET", `/api/v1/instances/${inst.instanceId}/commands`)).body;
    expect(cmds).toEqual([]);
  });
});
