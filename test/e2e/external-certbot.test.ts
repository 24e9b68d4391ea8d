// External certificate managers end to end with the COMPILED binary: Debian's certbot issues
// two certificates (RSA with several SANs, ECDSA) from a real Pebble (real HTTP-01 validation:
// Pebble resolves the names through BIND, whose zone has only A records, so it dials certbot's
// standalone listener on 127.0.0.1) into a private config dir. A joined agent pointed at that
// dir through PUT /api/v1/settings/externalManagers reports both in GET /api/v1/certificates;
// `certbot renew --force-renewal` + external-refresh shows the new serial; a disabled client
// says "disabled"; an agent running as nobody names the directory it cannot read.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { binPath, startHub, tempDir, type Hub } from "../helpers";
import { startBind, startPebble, type Bind, type Pebble } from "../helpers/acme-peers";
import { startAgent, until, type RunningAgent } from "./agents.fixtures";
import { adminApiAuth, type ApiAnswer, callApi, firstJoiningKey } from "./hub-api.fixtures";

const ZONE = "certbot.test";
const RSA = { name: `multi.${ZONE}`, domains: [`multi.${ZONE}`, `www.multi.${ZONE}`, `api.multi.${ZONE}`] };
const EC = { name: `ec.${ZONE}`, domains: [`ec.${ZONE}`] };
let hub: Hub;
let hubDir: string;
let pebble: Pebble;
let bind: Bind;
let auth: string;
let joiningKey: { clientId: string; secret: string };
let base: string;
let configDir: string;
let logsDir: string;
let caFile: string;
const agents: RunningAgent[] = [];
let agent: RunningAgent;
let instanceId: string;
const timings: Record<string, number> = {};

const api = (p: string, method = "GET", body?: unknown): Promise<ApiAnswer> => callApi(hub.url, auth, p, method, body);

function certbot(args: string[]): void {
  const certbotBin = Bun.which("certbot");
  if (!certbotBin) throw new Error("certbot is not installed: this test drives the real certbot (apt-get install -y certbot, or run npm test as root)");
  const r = Bun.spawnSync(
    [certbotBin, ...args, "--non-interactive", "--config-dir", configDir, "--work-dir", path.join(base, "work"), "--logs-dir", logsDir, "--server", pebble.directoryUrl],
    { env: { ...process.env, REQUESTS_CA_BUNDLE: caFile }, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`certbot ${args.join(" ")} failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
}

function issue(name: string, domains: string[], keyArgs: string[]) {
  certbot([
    "certonly", "--agree-tos", "-m", "admin@example.com", "--no-eff-email", "--cert-name", name, ...keyArgs,
    "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", String(pebble.httpPort),
    ...domains.flatMap((d) => ["-d", d]),
  ]);
}

const liveCert = (lineage: string) => new X509Certificate(readFileSync(path.join(configDir, "live", lineage, "cert.pem")));
const hexSerial = (x: X509Certificate) => x.serialNumber.toLowerCase().replace(/^0+/, "");
const norm = (s: string) => s.toLowerCase().replace(/^0+/, "");

async function certbotCerts(forInstance: string) {
  const r = await api("/certificates");
  expect(r.status).toBe(200);
  const rows = (Array.isArray(r.json) ? r.json : r.json.items ?? r.json.certificates) as any[];
  return rows.filter((c) => c.instanceId === forInstance && c.source === "certbot");
}

async function joined(a: RunningAgent): Promise<string> {
  const r = await a.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...joiningKey, url: hub.url }) });
  if (r.status !== 200) throw new Error(`join: ${r.status} ${await r.text()}\n${a.output()}`);
  return (await r.json()).instanceId;
}

async function pointAt(id: string, extra: Record<string, unknown> = {}) {
  const put = await api("/settings/externalManagers", "PUT", {
    scope: "instance",
    scopeId: id,
    value: { certbot: { enabled: true, configPath: configDir, logPath: logsDir }, "acme.sh": { enabled: false }, ...extra },
  });
  expect(put.status).toBe(200);
}

beforeAll(async () => {
  bind = await startBind({ zone: ZONE, records: ["* 60 IN A 127.0.0.1"] });
  pebble = await startPebble({ dnsServer: bind.server, env: { PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
  base = tempDir("certhub-e2e-certbot-");
  configDir = path.join(base, "etc");
  logsDir = path.join(base, "log");
  caFile = path.join(base, "pebble-ca.pem");
  writeFileSync(caFile, pebble.caPem);
  const t0 = performance.now();
  issue(RSA.name, RSA.domains, ["--key-type", "rsa", "--rsa-key-size", "2048"]);
  issue(EC.name, EC.domains, ["--key-type", "ecdsa", "--elliptic-curve", "secp256r1"]);
  timings.certbotIssueBoth = Math.round(performance.now() - t0);

  hubDir = tempDir("certhub-e2e-ext-hub-");
  hub = await startHub({ dataDir: hubDir, env: { CERTHUB_SYNC_INTERVAL_SECONDS: "5" } });
  joiningKey = firstJoiningKey(hub);
  auth = await adminApiAuth(hubDir, "e2e external");
  agent = await startAgent({ dataDir: tempDir("certhub-e2e-ext-agent-") });
  agents.push(agent);
  instanceId = await joined(agent);
}, 120_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  await hub?.stop();
  await pebble?.stop();
  await bind?.stop();
  console.log(`external certbot e2e timings (ms): ${JSON.stringify(timings)}`);
});

describe("certbot monitored by the agent binary", () => {
  test("PUT externalManagers at instance scope → both certbot certificates in GET /api/v1/certificates with domains and notAfter", async () => {
    const t0 = performance.now();
    await pointAt(instanceId);
    const certs = await until("both certbot certificates at the hub", async () => {
      const c = await certbotCerts(instanceId);
      return c.length === 2 ? c : null;
    }, 20_000, 100).catch(async (err) => {
      throw new Error(`${err.message}\ninstance: ${JSON.stringify((await api(`/instances/${instanceId}`)).json)}\ncertificates: ${(await api("/certificates")).text}\n${agent.output()}`);
    });
    timings.settingToBothListed = Math.round(performance.now() - t0);
    for (const want of [RSA, EC]) {
      const c = certs.find((x: any) => x.domains.includes(want.name));
      expect(c).toBeTruthy();
      expect([...c.domains].sort()).toEqual([...want.domains].sort());
      const x = liveCert(want.name);
      expect(c.notAfter).toBe(Date.parse(x.validTo));
      expect(norm(c.serial)).toBe(hexSerial(x));
      expect(c.serial).toMatch(/^[0-9a-f]+$/);
      // Pebble picks its 6-day profile at random when none is asked for (certbot 2.1 cannot ask):
      // such a certificate is inside certbot's 30-day renewal window, so "expiring".
      const lifetime = Date.parse(x.validTo) - Date.parse(x.validFrom);
      expect(c.status).toBe(lifetime > 31 * 86_400_000 ? "valid" : "expiring");
    }
    // the key types are what certbot was asked for
    expect(liveCert(RSA.name).publicKey.asymmetricKeyType).toBe("rsa");
    expect(liveCert(EC.name).publicKey.asymmetricKeyType).toBe("ec");

    const inst = (await api(`/instances/${instanceId}`)).json;
    const cb = inst.externalManagers.find((m: any) => m.name === "certbot");
    expect(cb).toMatchObject({ status: "ok", configPath: configDir, certificateCount: 2, problems: [] });
    expect(cb.scannedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(inst.externalManagers.find((m: any) => m.name === "acme.sh").status).toBe("disabled");
    const eff = ((await api(`/instances/${instanceId}/settings`)).json as any[]).find((e) => e.key === "externalManagers");
    expect(eff).toMatchObject({ scope: "instance", scopeId: instanceId });
    expect(eff.value.certbot.configPath).toBe(configDir);
  }, 30_000);

  test("certbot renew --force-renewal, then external-refresh → 202 and the new serial shows", async () => {
    const before = (await certbotCerts(instanceId)).find((c: any) => c.domains.includes(RSA.name));
    certbot(["renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", RSA.name]);
    const renewed = hexSerial(liveCert(RSA.name));
    expect(renewed).not.toBe(norm(before.serial));
    const t0 = performance.now();
    const r = await api(`/instances/${instanceId}/external-refresh`, "POST", {});
    expect(r.status).toBe(202);
    const after = await until("the new serial at the hub", async () => {
      const c = (await certbotCerts(instanceId)).find((x: any) => x.domains.includes(RSA.name));
      return c && norm(c.serial) === renewed ? c : null;
    }, 15_000, 50);
    timings.refreshToNewSerial = Math.round(performance.now() - t0);
    expect(after.notAfter).toBe(Date.parse(liveCert(RSA.name).validTo));
    expect((await certbotCerts(instanceId)).length).toBe(2);
  }, 60_000);

  test("certbot disabled → status disabled and its certificates leave the list", async () => {
    const put = await api("/settings/externalManagers", "PUT", { scope: "instance", scopeId: instanceId, value: { certbot: { enabled: false, configPath: configDir } } });
    expect(put.status).toBe(200);
    const cb = await until("certbot disabled", async () => {
      const m = (await api(`/instances/${instanceId}`)).json.externalManagers?.find((x: any) => x.name === "certbot");
      return m?.status === "disabled" ? m : null;
    }, 15_000, 100);
    expect(cb.certificateCount).toBe(0);
    await until("certbot certificates gone", async () => (await certbotCerts(instanceId)).length === 0, 10_000, 100);

    // a path that does not exist: "not-found", naming it
    const missing = path.join(base, "no-such-certbot");
    expect((await api("/settings/externalManagers", "PUT", { scope: "instance", scopeId: instanceId, value: { certbot: { configPath: missing } } })).status).toBe(200);
    const nf = await until("certbot not-found", async () => {
      const m = (await api(`/instances/${instanceId}`)).json.externalManagers?.find((x: any) => x.name === "certbot");
      return m?.status === "not-found" && m.configPath === missing ? m : null;
    }, 15_000, 100);
    expect(nf.certificateCount).toBe(0);

    // the same through the global scope, "enabled" left to its default
    expect((await api(`/settings/externalManagers?scope=instance&scopeId=${instanceId}`, "DELETE")).status).toBeLessThan(300);
    expect((await api("/settings/externalManagers", "PUT", { scope: "global", value: { certbot: { configPath: configDir, logPath: logsDir } } })).status).toBe(200);
    const eff = ((await api(`/instances/${instanceId}/settings`)).json as any[]).find((e) => e.key === "externalManagers");
    expect(eff).toMatchObject({ scope: "global" });
    await until("back again through the global setting", async () => (await certbotCerts(instanceId)).length === 2, 15_000, 100);
  }, 45_000);

  test("an agent running as nobody names the directory it cannot read (certbot's archive/ and live/ are 0700)", async () => {
    if (!Bun.which("setpriv")) throw new Error("setpriv (util-linux) is needed to run the agent as nobody");
    // nobody reaches the tree as it reaches /etc/letsencrypt (0755); certbot's own modes stay below.
    for (const d of [base, configDir, path.join(configDir, "renewal")]) chmodSync(d, 0o755);
    const dataDir = tempDir("certhub-e2e-ext-nobody-");
    const nobody = Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString().trim();
    const nogroup = Bun.spawnSync(["id", "-g", "nobody"]).stdout.toString().trim();
    chownSync(dataDir, Number(nobody), Number(nogroup));
    const wrapper = path.join(tempDir("certhub-e2e-ext-wrap-"), "certhub-as-nobody");
    writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --reuid=nobody --regid=${nogroup} --clear-groups ${binPath()} "$@"\n`);
    chmodSync(wrapper, 0o755);
    chmodSync(path.dirname(wrapper), 0o755);
    const asNobody = await startAgent({ dataDir, bin: wrapper, env: { HOME: "/nonexistent" } });
    agents.push(asNobody);
    const id = await joined(asNobody);
    await pointAt(id);
    const cb = await until("certbot problem reported", async () => {
      const m = (await api(`/instances/${id}`)).json.externalManagers?.find((x: any) => x.name === "certbot");
      return m?.scannedAt && m.problems?.length ? m : null;
    }, 20_000, 100);
    console.log(`as nobody: ${cb.status}: ${cb.problems.join(" | ")}`);
    expect(cb.status).toBe("error");
    const text = cb.problems.join("\n");
    expect(text).toContain(`cannot read ${path.join(configDir, "archive")}: permission denied`);
    expect(text).toMatch(/run the agent as root|grant read access/);
    expect(await certbotCerts(id)).toEqual([]);
    // the root agent still sees both
    expect((await certbotCerts(instanceId)).length).toBe(2);
  }, 45_000);
});
