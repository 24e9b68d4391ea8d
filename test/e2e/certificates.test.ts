// Certificates end to end with the COMPILED binary (dist/certhub) against real peers, driven
// the way an outside script would: an administrator API token from `certhub keys create`,
// HTTP Basic on /api/v1, agents joined through their local API (curl's body) and through
// `certhub hub join`. Peers: Pebble 2.10 (real validation), BIND with a TSIG key made now (the
// DNS server Pebble resolves every name through: a wildcard A/AAAA for HTTP-01 names, TXT
// updates for DNS-01). The agents talk to the hub through a loopback recording proxy in this
// process, so every byte an agent sends is kept and checked for private keys (the proxy sees
// the wire as it is; the hub's own log would only show what the hub chose to print).
//
// Covered: HTTP-01 standalone and webroot, DNS-01 RFC 2136 (wildcard + apex) and exec hook, EAB,
// PEM files (atomic, modes), renew / Test / Deploy now, a failing challenge and its back-off,
// group and instance scopes, agent and hub restarts, deletion, secrets, bad input.
// Measured times are printed at the end ("certificates e2e timings").
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, runCli, startHub, tempDir, type Hub } from "../helpers";
import { PEBBLE_EAB, startBind, startPebble, type Bind, type Pebble } from "../helpers/acme-peers";
import { recordingProxy, type SentBody } from "../helpers/recording-proxy";
import { startAgent, until, type RunningAgent } from "./agents.fixtures";
import { adminApiAuth, type ApiAnswer, callApi, firstJoiningKey } from "./hub-api.fixtures";

const ZONE = "certhub.test";
let hubDir: string;
let hub: Hub;
let pebble: Pebble;
let bind: Bind;
let auth: string;
let joiningKey: { clientId: string; secret: string };
let proxy: ReturnType<typeof Bun.serve>;
let proxyUrl: string;
let caAccountId: string;
/** Every body an agent sent to the hub (through the proxy). */
const sent: SentBody[] = [];
/** Every API response body this file received (checked for secrets at the end). */
const responses: string[] = [];
const agents: RunningAgent[] = [];
/** The plain agent (no scripts) and the one started with --allow-scripts. */
let agentA: RunningAgent;
let instanceA: string;
let agentS: RunningAgent;
let instanceS: string;
const timings: Record<string, number> = {};
let webrootCertId: string;
let edgeInstanceId: string;
let edgeKeyClientId: string;

async function api(p: string, method = "GET", body?: unknown): Promise<ApiAnswer> {
  const answer = await callApi(hub.url, auth, p, method, body);
  responses.push(answer.text);
  return answer;
}

let counter = 0;
const domain = (label: string) => `${label}-${++counter}.${ZONE}`;
const normSerial = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^0+/, "");
const serialOf = (pem: string) => normSerial(new X509Certificate(pem).serialNumber);
const mode = (f: string) => statSync(f).mode & 0o777;

async function defineCert(fields: Record<string, unknown>, instanceId = instanceA) {
  const r = await api("/managed-certificates", "POST", { instanceId, caAccountId, ...fields });
  if (r.status !== 201) throw new Error(`POST /managed-certificates: ${r.status} ${r.text}`);
  expect(r.json.id).toBeString();
  return r.json.id as string;
}
const getCert = async (id: string) => (await api(`/managed-certificates/${id}`)).json;

async function waitValid(id: string, what: string, notSerial?: string, timeoutMs = 40_000) {
  return until(what, async () => {
    const c = await getCert(id);
    if (c?.status === "failed" && !notSerial) throw new Error(`failed: ${c.lastError}`);
    return c?.status === "valid" && c.serial && c.serial !== notSerial ? c : null;
  }, timeoutMs, 100).catch(async (err) => {
    // A port "in use": say who holds it (ss names the process).
    const port = /listener on \S+:(\d+) could not start/.exec(err.message)?.[1];
    const holders = port ? Bun.spawnSync(["ss", "-ltnpH", `sport = :${port}`]).stdout.toString() : "";
    throw new Error(`${err.message}\nlast view: ${JSON.stringify(await getCert(id))}\n${holders ? `port ${port} held by: ${holders}\n` : ""}${agentLogs()}`);
  });
}
const agentLogs = () => agents.map((a) => a.output().slice(-3000)).join("\n");

async function joinedAgent(opts: { args?: string[]; how: "curl" | "cli" }) {
  const dataDir = tempDir("certhub-e2e-cert-agent-");
  const a = await startAgent({ dataDir, args: opts.args });
  agents.push(a);
  if (opts.how === "curl") {
    const r = await a.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...joiningKey, url: proxyUrl }) });
    expect(r.status).toBe(200);
  } else {
    const r = await runCli(["hub", "join", proxyUrl, joiningKey.clientId, joiningKey.secret], { env: { CERTHUB_AGENT_DATA_DIR: dataDir } });
    if (r.code !== 0) throw new Error(`certhub hub join: ${r.stdout}${r.stderr}`);
  }
  const s = await until("joined and connected", async () => {
    const st = await a.status();
    return st.status === "connected" && st.instanceId ? st : null;
  }, 15_000);
  return { agent: a, instanceId: s.instanceId as string };
}

beforeAll(async () => {
  // BIND first: Pebble resolves every identifier through it.
  bind = await startBind({ zone: ZONE, records: ["* 60 IN A 127.0.0.1", "* 60 IN AAAA ::1"] });
  // Real validation; bad nonces off and no authorization reuse so every order really validates.
  pebble = await startPebble({ dnsServer: bind.server, env: { PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
  hubDir = tempDir("certhub-e2e-cert-hub-");
  hub = await startHub({ dataDir: hubDir, env: { CERTHUB_SYNC_INTERVAL_SECONDS: "5" } });
  joiningKey = firstJoiningKey(hub);
  auth = await adminApiAuth(hubDir, "e2e certificates");
  proxy = recordingProxy(hub.url, sent);
  proxyUrl = `http://127.0.0.1:${proxy.port}`;
  ({ agent: agentA, instanceId: instanceA } = await joinedAgent({ how: "curl" }));
  ({ agent: agentS, instanceId: instanceS } = await joinedAgent({ how: "cli", args: ["--allow-scripts"] }));
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  proxy?.stop(true);
  await hub?.stop();
  await pebble?.stop();
  await bind?.stop();
  console.log(`certificates e2e timings (ms): ${JSON.stringify(timings)}`);
});

let mainCertId: string;
const certId = () => mainCertId;

describe("certificates through the API with the compiled binary", () => {
  let certId: string;
  let pemDir: string;
  let firstSerial: string;

  test("CA account at global scope: 201, and the agent registers with Pebble", async () => {
    const r = await api("/ca-accounts", "POST", { title: "Pebble", directoryUrl: pebble.directoryUrl, email: "ops@example.com", scope: "global", trustedRootsPem: pebble.caPem });
    expect(r.status).toBe(201);
    expect(r.json.id).toBeString();
    caAccountId = r.json.id;
    const list = await api("/ca-accounts");
    expect(list.json.map((a: any) => a.id)).toContain(caAccountId);
  });

  test("HTTP-01 standalone + PEM deployment (mode 0640): valid with Pebble's serial and notAfter, files atomic with the right modes", async () => {
    pemDir = path.join(tempDir("certhub-e2e-pem-"), "site");
    mkdirSync(pemDir);
    const name = domain("web");
    const t0 = performance.now();
    certId = await defineCert({ name: "web", domains: [name, domain("www")], challenge: { type: "http-01", port: pebble.httpPort }, deployments: [{ type: "pem", directory: pemDir, mode: "0640" }] });
    // listed at once, before the agent reported anything
    const early = (await api(`/managed-certificates?instanceId=${instanceA}`)).json as any[];
    expect(early.find((c) => c.id === certId)?.status).toMatch(/^(pending|renewing|valid)$/);
    const view = await waitValid(certId, "standalone certificate valid");
    timings.standalonePostToValid = Math.round(performance.now() - t0);
    const files = await until("PEM files deployed", async () => (existsSync(path.join(pemDir, "privkey.pem")) ? readdirSync(pemDir) : null));
    expect(files.sort()).toEqual([".certhub-pem", "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]); // no temp files left (the names link into .certhub-pem/current)
    const certPem = readFileSync(path.join(pemDir, "cert.pem"), "utf8");
    const x = new X509Certificate(certPem);
    expect(view.serial).toMatch(/^[0-9a-f]+$/);
    expect(normSerial(view.serial)).toBe(serialOf(certPem));
    expect(view.notAfter).toBe(Date.parse(x.validTo));
    expect(view.notBefore).toBe(Date.parse(x.validFrom));
    expect(x.issuer).toMatch(/Pebble/i);
    expect(view.issuer).toMatch(/Pebble/i);
    expect(view.nextRenewalAt).toBeGreaterThan(Date.now());
    expect(view.nextRenewalAt).toBeLessThan(view.notAfter);
    expect(x.subjectAltName).toContain(`DNS:${name}`);
    expect(view.domains).toContain(name);
    expect(mode(path.join(pemDir, "privkey.pem"))).toBe(0o640);
    const key = readFileSync(path.join(pemDir, "privkey.pem"), "utf8");
    expect(x.checkPrivateKey((await import("node:crypto")).createPrivateKey(key))).toBe(true);
    expect(readFileSync(path.join(pemDir, "fullchain.pem"), "utf8")).toBe(certPem.trimEnd() + "\n" + readFileSync(path.join(pemDir, "chain.pem"), "utf8").trimStart());
    expect(view.attempts[0].outcome).toBe("succeeded");
    expect(view.accountRegistration).toMatchObject({ status: "registered" });
    await until("deployment result reported", async () => (await getCert(certId)).deployments?.[0]?.lastResult?.outcome === "succeeded");

    const all = await api("/certificates");
    expect(all.status).toBe(200);
    const listed = (Array.isArray(all.json) ? all.json : all.json.items ?? all.json.certificates).find((c: any) => c.id === certId);
    expect(listed).toMatchObject({ source: "managed", instanceId: instanceA, status: "valid", notAfter: view.notAfter });
    expect(listed.domains).toContain(name);
    firstSerial = view.serial;
    mainCertId = certId;
  }, 60_000);

  test("renew → 202, a new serial; a reader never sees a half-written file; attempts newest first", async () => {
    expect(firstSerial).toBeTruthy();
    // A reader hammering the deployed files during the renewal: each read is a whole PEM.
    let reads = 0;
    let torn: string | null = null;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        for (const f of ["cert.pem", "fullchain.pem", "privkey.pem"]) {
          const text = readFileSync(path.join(pemDir, f), "utf8");
          reads++;
          if (!/^-----BEGIN [A-Z ]+-----\n[\s\S]+\n-----END [A-Z ]+-----\n$/.test(text)) torn ??= `${f}: ${JSON.stringify(text.slice(-80))}`;
        }
        await Bun.sleep(0);
      }
    })();
    const t0 = performance.now();
    const r = await api(`/managed-certificates/${certId}/renew`, "POST", {});
    expect(r.status).toBe(202);
    const view = await waitValid(certId, "renewed serial", firstSerial);
    timings.renewPostToNewSerial = Math.round(performance.now() - t0);
    await until("new files deployed", async () => serialOf(readFileSync(path.join(pemDir, "cert.pem"), "utf8")) === normSerial(view.serial));
    stop = true;
    await reader;
    expect(torn).toBeNull();
    expect(reads).toBeGreaterThan(10);
    expect(mode(path.join(pemDir, "privkey.pem"))).toBe(0o640);
    expect(readdirSync(pemDir).sort()).toEqual([".certhub-pem", "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
    expect(view.attempts.length).toBeGreaterThanOrEqual(2);
    expect(view.attempts[0]).toMatchObject({ outcome: "succeeded", kind: "renew" });
    for (let i = 1; i < view.attempts.length; i++) expect(view.attempts[i - 1].at).toBeGreaterThanOrEqual(view.attempts[i].at);
    expect(view.attempts.at(-1).kind).toBe("issue");
  }, 60_000);

  test("Test → 202: the preflight runs and its per-domain result is the newest attempt", async () => {
    const r = await api(`/managed-certificates/${certId}/test`, "POST", {});
    expect(r.status).toBe(202);
    const view = await until("preflight attempt", async () => {
      const c = await getCert(certId);
      return c?.attempts?.[0]?.kind === "preflight" ? c : null;
    }, 15_000, 100);
    expect(view.attempts[0].outcome).toBe("succeeded");
    expect(view.attempts[0].steps.map((s: any) => s.domain).sort()).toEqual([...view.domains].sort());
    expect(view.status).toBe("valid");
  }, 30_000);

  test("Deploy now → 202: the PEM files are written again with the current version, no new order", async () => {
    const before = await getCert(certId);
    for (const f of readdirSync(pemDir)) (await import("node:fs")).rmSync(path.join(pemDir, f), { recursive: true }); // .certhub-pem is a directory
    const r = await api(`/managed-certificates/${certId}/deploy`, "POST", {});
    expect(r.status).toBe(202);
    await until("files back", async () => existsSync(path.join(pemDir, "privkey.pem")) && existsSync(path.join(pemDir, "cert.pem")), 15_000, 50);
    expect(serialOf(readFileSync(path.join(pemDir, "cert.pem"), "utf8"))).toBe(normSerial(before.serial));
    expect(mode(path.join(pemDir, "privkey.pem"))).toBe(0o640);
    const after = await until("deploy attempt", async () => {
      const c = await getCert(certId);
      return c?.attempts?.[0]?.kind === "deploy" ? c : null;
    }, 15_000, 100);
    expect(after.serial).toBe(before.serial);
    expect(after.attempts[0].outcome).toBe("succeeded");
  }, 30_000);

  test("HTTP-01 webroot (served by a static server on Pebble's port) validates; PEM key 0600 by default", async () => {
    const webroot = tempDir("certhub-e2e-webroot-");
    const served: string[] = [];
    const server = Bun.serve({
      hostname: "::",
      port: pebble.httpPort,
      async fetch(req) {
        const p = decodeURIComponent(new URL(req.url).pathname);
        served.push(p);
        const file = Bun.file(path.join(webroot, path.normalize(p)));
        return (await file.exists()) ? new Response(file) : new Response("not found", { status: 404 });
      },
    });
    try {
      const out = tempDir("certhub-e2e-pem2-");
      const t0 = performance.now();
      const id = (webrootCertId = await defineCert({ name: "webroot", domains: [domain("static")], challenge: { type: "http-01", webroot }, deployments: [{ type: "pem", directory: out }] }));
      const view = await waitValid(id, "webroot certificate valid");
      timings.webrootPostToValid = Math.round(performance.now() - t0);
      expect(served.some((p) => p.startsWith("/.well-known/acme-challenge/"))).toBe(true);
      await until("PEM deployed", async () => existsSync(path.join(out, "privkey.pem")));
      expect(mode(path.join(out, "privkey.pem"))).toBe(0o600);
      expect(serialOf(readFileSync(path.join(out, "cert.pem"), "utf8"))).toBe(normSerial(view.serial));
      // the token files are removed afterwards
      const wk = path.join(webroot, ".well-known/acme-challenge");
      expect(existsSync(wk) ? readdirSync(wk) : []).toEqual([]);
    } finally {
      await server.stop(true); // Pebble's HTTP port is the agents' again from here on
    }
  }, 60_000);

  let tsigCredentialId: string;
  test("DNS-01 RFC 2136 against BIND with a stored TSIG credential: wildcard + apex", async () => {
    const cred = await api("/credentials", "POST", { title: "BIND TSIG", type: "tsig", scope: "global", secret: bind.tsig });
    expect(cred.status).toBe(201);
    tsigCredentialId = cred.json.id;
    expect(cred.text).not.toContain(bind.tsig.secret);
    const apex = `w${++counter}.${ZONE}`;
    const t0 = performance.now();
    const id = await defineCert({ name: "wild", domains: [`*.${apex}`, apex], keyType: "ecdsa-p384", challenge: { type: "dns-01", provider: "rfc2136", server: bind.server, zone: ZONE, credentialId: tsigCredentialId } });
    const view = await waitValid(id, "wildcard certificate valid");
    timings.rfc2136PostToValid = Math.round(performance.now() - t0);
    expect(view.domains.sort()).toEqual([`*.${apex}`, apex].sort());
    expect(bind.output()).toMatch(/updating zone/);
  }, 60_000);

  test("a CA that requires External Account Binding: the EAB from the CA account reaches the agent, the certificate is issued", async () => {
    const eabPebble = await startPebble({ dnsServer: bind.server, eabRequired: true, env: { PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
    try {
      const ca = await api("/ca-accounts", "POST", { title: "Pebble with EAB", directoryUrl: eabPebble.directoryUrl, email: "ops@example.com", scope: "instance", scopeId: instanceA, trustedRootsPem: eabPebble.caPem, eab: PEBBLE_EAB });
      expect(ca.status).toBe(201);
      expect(ca.text).not.toContain(PEBBLE_EAB.hmacKey);
      const t0 = performance.now();
      const id = await defineCert({ name: "eab", caAccountId: ca.json.id, domains: [domain("eab")], challenge: { type: "dns-01", provider: "rfc2136", server: bind.server, credentialId: tsigCredentialId } });
      const view = await waitValid(id, "EAB certificate valid");
      timings.eabPostToValid = Math.round(performance.now() - t0);
      expect(view.accountRegistration).toMatchObject({ status: "registered" });
      expect(eabPebble.output()).toContain("sign-me-up");
      expect((await api(`/managed-certificates/${id}`, "DELETE")).status).toBeLessThan(300);
      // without the binding the same CA refuses, in its own words
      const bare = await api("/ca-accounts", "POST", { title: "Pebble without EAB", directoryUrl: eabPebble.directoryUrl, email: "ops@example.com", scope: "instance", scopeId: instanceA, trustedRootsPem: eabPebble.caPem });
      const id2 = await defineCert({ name: "no eab", caAccountId: bare.json.id, domains: [domain("noeab")], challenge: { type: "dns-01", provider: "rfc2136", server: bind.server, credentialId: tsigCredentialId } });
      const failed = await until("refused without EAB", async () => {
        const c = await getCert(id2);
        return c?.status === "failed" && c.lastError ? c : null;
      }, 20_000, 100);
      console.log(`without EAB: ${failed.lastError}`);
      expect(failed.lastError).toMatch(/externalAccountBinding|externalAccountRequired/);
      expect(failed.accountRegistration).toMatchObject({ status: "error" });
      expect((await api(`/managed-certificates/${id2}`, "DELETE")).status).toBeLessThan(300);
      for (const a of [ca.json.id, bare.json.id]) expect((await api(`/ca-accounts/${a}`, "DELETE")).status).toBeLessThan(300);
    } finally {
      await eabPebble.stop();
    }
  }, 60_000);

  test("DNS-01 through an exec hook on an agent started with --allow-scripts", async () => {
    const dir = tempDir("certhub-e2e-hook-");
    const log = path.join(dir, "calls.log");
    const hook = path.join(dir, "dns-hook.sh");
    const [host, port] = bind.server.split(":");
    writeFileSync(hook, `#!/bin/sh
# lego-style hook: $1 = present|cleanup, $2 = _acme-challenge.<name>., $3 = TXT value
echo "$1 $2" >> ${log}
case "$1" in
  present) op="update add $2 60 TXT \\"$3\\"" ;;
  cleanup) op="update delete $2 TXT \\"$3\\"" ;;
  *) exit 2 ;;
esac
printf 'server ${host} ${port}\\nzone ${ZONE}\\n%s\\nsend\\n' "$op" | nsupdate -k ${path.join(bind.dir, "tsig.key")}
`);
    chmodSync(hook, 0o755);
    const name = domain("hooked");
    const t0 = performance.now();
    const id = await defineCert({ name: "hooked", domains: [name], challenge: { type: "dns-01", provider: "exec", command: hook } }, instanceS);
    await waitValid(id, "exec-hook certificate valid");
    timings.execHookPostToValid = Math.round(performance.now() - t0);
    const calls = readFileSync(log, "utf8");
    expect(calls).toContain(`present _acme-challenge.${name}.`);
    expect(calls).toContain(`cleanup _acme-challenge.${name}.`);
  }, 60_000);

  test("the same hook on the agent without --allow-scripts is refused, with the reason in the hub", async () => {
    const id = await defineCert({ name: "no scripts", domains: [domain("noscripts")], challenge: { type: "dns-01", provider: "exec", command: "/bin/true" } });
    const view = await until("refused", async () => {
      const c = await getCert(id);
      return c?.status === "failed" && c.lastError ? c : null;
    }, 20_000);
    expect(view.lastError).toMatch(/scripts/i);
    expect((await api(`/managed-certificates/${id}`, "DELETE")).status).toBeLessThan(300);
  }, 30_000);

  test("a failing challenge: status failed, the CA's own words, a back-off in the future, no hammering", async () => {
    const before = Date.now();
    // The agent's listener on a port Pebble never dials: Pebble's validation is refused.
    const id = await defineCert({ name: "wrong port", domains: [domain("wrong")], challenge: { type: "http-01", port: await freePort() } });
    const view = await until("failed in the hub", async () => {
      const c = await getCert(id);
      return c?.status === "failed" && c.lastError ? c : null;
    }, 30_000);
    console.log(`failing challenge reported as: ${view.lastError}`);
    // Pebble's problem detail: it dialled its HTTP-01 port and nobody answered.
    // Go's dialer text, quoted from the problem document: the CA's words, not the agent's.
    expect(view.lastError).toMatch(/dial tcp .*connection refused/);
    const url = /http:\/\/\S+\/\.well-known\/acme-challenge\/[\w-]+/.exec(view.lastError)?.[0];
    expect(url).toBeTruthy();
    expect(pebble.output()).toContain(`Attempting to validate w/ HTTP: ${url}`);
    expect(view.nextRenewalAt).toBeGreaterThan(Date.now() + 30_000);
    expect(view.attempts[0].outcome).toBe("failed");
    expect(view.serial ?? null).toBeNull();
    const attemptsBefore = view.attempts.length;
    const logBefore = pebble.output();
    await Bun.sleep(4000);
    // Pebble's log is kept as a 20 kB tail: what was added since is what follows the old end.
    const logAfter = pebble.output();
    const mark = logAfter.lastIndexOf(logBefore.slice(-300));
    expect(mark).toBeGreaterThanOrEqual(0);
    const newLog = logAfter.slice(mark + 300);
    expect(newLog).not.toContain("/order-plz");
    expect(newLog).not.toContain("Added order");
    const after = await getCert(id);
    expect(after.attempts.length).toBe(attemptsBefore);
    expect(after.status).toBe("failed");
    expect(after.nextRenewalAt).toBe(view.nextRenewalAt);
    expect(view.nextRenewalAt).toBeGreaterThanOrEqual(before + 60_000);
  }, 60_000);
});

describe("scopes, restarts and deletion", () => {
  test("group scope: a group's CA account and default key type reach only that group's instance; the instance override wins", async () => {
    const key = await runCli(["keys", "create", "--title", "edge hosts", "--group", "edge", "--json"], { dataDir: hubDir });
    expect(key.code).toBe(0);
    const edgeKey = JSON.parse(key.stdout);
    const dataDir = tempDir("certhub-e2e-cert-edge-");
    const edge = await startAgent({ dataDir });
    agents.push(edge);
    const joined = await edge.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...edgeKey, url: proxyUrl }) });
    expect(joined.status).toBe(200);
    const edgeId = (edgeInstanceId = (await joined.json()).instanceId as string);
    edgeKeyClientId = edgeKey.clientId;
    await until("edge connected", async () => (await edge.status()).status === "connected", 15_000);

    expect((await api("/settings/defaultKeyType", "PUT", { scope: "global", value: "rsa-2048" })).status).toBe(200);
    expect((await api("/settings/defaultKeyType", "PUT", { scope: "group", scopeId: "edge", value: "ecdsa-p384" })).status).toBe(200);
    const effective = async (id: string) => ((await api(`/instances/${id}/settings`)).json as any[]).find((e) => e.key === "defaultKeyType");
    expect(await effective(edgeId)).toMatchObject({ value: "ecdsa-p384", scope: "group", scopeId: "edge" });
    expect(await effective(instanceA)).toMatchObject({ value: "rsa-2048", scope: "global" });

    const ca = await api("/ca-accounts", "POST", { title: "Pebble for edge", directoryUrl: pebble.directoryUrl, email: "edge@example.com", scope: "group", scopeId: "edge", trustedRootsPem: pebble.caPem });
    expect(ca.status).toBe(201);
    const outside = await api("/managed-certificates", "POST", { instanceId: instanceA, caAccountId: ca.json.id, name: "not mine", domains: [domain("outside")], challenge: { type: "http-01", port: pebble.httpPort } });
    expect(outside.status).toBeGreaterThanOrEqual(400);
    expect(outside.status).toBeLessThan(500);
    expect(outside.json.error).toBeString();

    // no keyType: the group's default applies on the agent
    const id = await defineCert({ name: "edge", domains: [domain("edge")], caAccountId: ca.json.id, challenge: { type: "http-01", port: pebble.httpPort } }, edgeId);
    const view = await waitValid(id, "edge certificate valid");
    const x = new X509Certificate(readFileSync(path.join(dataDir, "certificates", id, view.serial, "cert.pem"), "utf8"));
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");

    expect((await api("/settings/defaultKeyType", "PUT", { scope: "instance", scopeId: edgeId, value: "rsa-3072" })).status).toBe(200);
    expect(await effective(edgeId)).toMatchObject({ value: "rsa-3072", scope: "instance", scopeId: edgeId });
    const own = await api(`/settings?scope=group&scopeId=edge`);
    expect(JSON.stringify(own.json)).toContain("ecdsa-p384");
    for (const q of [`scope=instance&scopeId=${edgeId}`, "scope=group&scopeId=edge", "scope=global"]) expect((await api(`/settings/defaultKeyType?${q}`, "DELETE")).status).toBeLessThan(300);
    expect(await effective(edgeId)).toMatchObject({ value: "ecdsa-p256", scope: "default" });
  }, 60_000);

  test("agent restart: the plan resumes, nothing is ordered again", async () => {
    const before = await getCert(certId());
    const port = Number(agentA.listen.split(":").at(-1));
    expect(await agentA.stop()).toBe(0);
    const logBefore = pebble.output();
    agentA = await startAgent({ dataDir: agentA.dataDir, port });
    agents.push(agentA);
    await until("reconnected", async () => (await agentA.status()).status === "connected", 15_000);
    await Bun.sleep(2000);
    const after = await getCert(certId());
    expect(after).toMatchObject({ status: "valid", serial: before.serial, nextRenewalAt: before.nextRenewalAt });
    const logAfter = pebble.output();
    const mark = logAfter.lastIndexOf(logBefore.slice(-300));
    expect(mark).toBeGreaterThanOrEqual(0);
    expect(logAfter.slice(mark + 300)).not.toContain("/order-plz");
  }, 30_000);

  test("hub restart: definitions and the agents' reports are still there; a renew after it still works", async () => {
    const before = await getCert(certId());
    expect(await hub.stop()).toBe(0);
    hub = await startHub({ dataDir: hubDir, port: hub.port, env: { CERTHUB_SYNC_INTERVAL_SECONDS: "5" } });
    const after = await getCert(certId());
    expect(after).toMatchObject({ status: "valid", serial: before.serial, notAfter: before.notAfter });
    await until("agent reconnected", async () => (await api(`/instances/${instanceA}`)).json.status === "online", 20_000, 200);
    expect((await api(`/managed-certificates/${certId()}/renew`, "POST", {})).status).toBe(202);
    await waitValid(certId(), "renewed after the hub restart", before.serial);
  }, 60_000);

  test("DELETE a managed certificate: gone from the API and /certificates; the agent drops its stored versions", async () => {
    const id = webrootCertId;
    expect(id).toBeTruthy();
    expect(existsSync(path.join(agentA.dataDir, "certificates", id))).toBe(true);
    const del = await api(`/managed-certificates/${id}`, "DELETE");
    expect(del.status).toBeLessThan(300);
    expect((await api(`/managed-certificates/${id}`)).status).toBe(404);
    const all = (await api("/certificates")).json;
    expect((Array.isArray(all) ? all : all.items ?? all.certificates).some((c: any) => c.id === id)).toBe(false);
    await until("stored versions removed on the agent", async () => !existsSync(path.join(agentA.dataDir, "certificates", id)), 15_000, 100);
  }, 30_000);
});

describe("secrets, bad input and settings", () => {
  const apiToken = `cf-token-${crypto.randomUUID()}`;

  test("secrets: TSIG secret and api-token plaintext nowhere in hub.db(-wal), API answers or the hub's output; no private key in hub.db or any agent request", async () => {
    const cred = await api("/credentials", "POST", { title: "DNS API", type: "api-token", scope: "instance", scopeId: instanceA, secret: { token: apiToken } });
    expect(cred.status).toBe(201);
    expect(cred.text).not.toContain(apiToken);
    const one = await api(`/credentials/${cred.json.id}`);
    expect(one.status).toBe(200);
    const list = await api("/credentials");
    expect(list.json.map((c: any) => c.id)).toEqual(expect.arrayContaining([cred.json.id]));
    await api(`/instances/${instanceA}`);
    await api(`/instances/${instanceA}/settings`);
    await api("/managed-certificates");
    // Let the hub write everything (WAL) before reading the files.
    await Bun.sleep(200);
    const dbFiles = ["hub.db", "hub.db-wal"].map((f) => path.join(hubDir, f)).filter(existsSync);
    expect(dbFiles.length).toBeGreaterThan(0);
    const pw = `pw-${crypto.randomUUID()}`;
    const up = `up-${crypto.randomUUID()}`;
    expect((await api("/credentials", "POST", { title: "PFX password", type: "password", scope: "global", secret: { password: pw } })).status).toBe(201);
    expect((await api("/credentials", "POST", { title: "Login", type: "username-password", scope: "group", scopeId: "edge", secret: { username: "deploy", password: up } })).status).toBe(201);
    await Bun.sleep(100);
    const secrets = { tsig: bind.tsig.secret, apiToken, password: pw, usernamePassword: up, eabHmacKey: PEBBLE_EAB.hmacKey };
    for (const f of dbFiles) {
      const bytes = readFileSync(f).toString("latin1");
      for (const [what, s] of Object.entries(secrets)) expect(bytes.includes(s), `${what} in ${path.basename(f)}`).toBe(false);
      expect(bytes.includes("PRIVATE KEY"), `PRIVATE KEY in ${path.basename(f)}`).toBe(false);
    }
    for (const [what, s] of Object.entries(secrets)) {
      expect(responses.some((r) => r.includes(s)), `${what} in an API response`).toBe(false);
      expect(hub.output().includes(s), `${what} in the hub's output`).toBe(false);
      for (const a of agents) expect(a.output().includes(s), `${what} in an agent's output`).toBe(false);
    }
    // Credentials travel only to the instances whose certificates use them, kept owner-only there.
    const agentFiles = (a: RunningAgent) => ["agent.db", "agent.db-wal"].map((f) => path.join(a.dataDir, f)).filter(existsSync);
    const agentBytes = (a: RunningAgent) => agentFiles(a).map((f) => readFileSync(f).toString("latin1")).join("");
    for (const f of agentFiles(agentA)) expect(mode(f), f).toBe(0o600);
    expect(agentBytes(agentA).includes(bind.tsig.secret), "the TSIG secret reached the agent whose certificate uses it").toBe(true);
    expect(agentBytes(agentA).includes(apiToken), "an unused credential was sent to the agent").toBe(false);
    expect(agentBytes(agentS).includes(bind.tsig.secret), "the TSIG secret was sent to an agent that does not use it").toBe(false);
    // The capture works (it holds the certificate reports) and holds no key.
    const syncs = sent.filter((s) => s.path.endsWith("/sync"));
    expect(syncs.length).toBeGreaterThan(3);
    const views = (await api("/managed-certificates")).json as any[];
    const issued = views.filter((v) => v.serial);
    expect(issued.length).toBeGreaterThanOrEqual(4);
    for (const v of issued) expect(sent.some((s) => s.body.includes(v.serial))).toBe(true);
    const keyBodies: string[] = [];
    for (const a of agents) {
      const certsDir = path.join(a.dataDir, "certificates");
      if (!existsSync(certsDir)) continue;
      for (const id of readdirSync(certsDir)) for (const serial of readdirSync(path.join(certsDir, id))) {
        const keyFile = path.join(certsDir, id, serial, "privkey.pem");
        if (existsSync(keyFile)) keyBodies.push(readFileSync(keyFile, "utf8").split("\n").filter((l) => l && !l.startsWith("-----")).join(""));
      }
    }
    expect(keyBodies.length).toBeGreaterThanOrEqual(4);
    for (const s of sent) {
      expect(s.body.includes("PRIVATE KEY"), `PRIVATE KEY in a request to ${s.path}`).toBe(false);
      for (const k of keyBodies) expect(s.body.includes(k.slice(0, 40)), `a private key's base64 in a request to ${s.path}`).toBe(false);
    }
    for (const f of dbFiles) {
      const bytes = readFileSync(f).toString("latin1");
      for (const k of keyBodies) expect(bytes.includes(k.slice(0, 40)), "a private key's base64 in hub.db").toBe(false);
    }
  });

  test("bad input: unknown URL scheme, invalid domain, wildcard with HTTP-01 → 400 {error}; an unreachable directory → the agent's registration error in the hub", async () => {
    const countBefore = (await api("/managed-certificates")).json.length;
    const ftp = await api("/ca-accounts", "POST", { title: "ftp", directoryUrl: "ftp://127.0.0.1/dir", email: "a@example.com", scope: "global" });
    expect(ftp.status).toBe(400);
    expect(ftp.json.error).toMatch(/https/);
    const invalid = await api("/managed-certificates", "POST", { instanceId: instanceA, caAccountId, name: "bad", domains: ["not a domain"], challenge: { type: "http-01", port: pebble.httpPort } });
    expect(invalid.status).toBe(400);
    expect(invalid.json.error).toMatch(/domain/i);
    const wild = await api("/managed-certificates", "POST", { instanceId: instanceA, caAccountId, name: "bad", domains: [`*.x.${ZONE}`], challenge: { type: "http-01", port: pebble.httpPort } });
    expect(wild.status).toBe(400);
    expect(wild.json.error).toMatch(/wildcard.*dns-01/i);

    const unreachable = await api("/ca-accounts", "POST", { title: "Nowhere", directoryUrl: `https://127.0.0.1:${await freePort()}/dir`, email: "a@example.com", scope: "instance", scopeId: instanceA });
    expect(unreachable.status).toBe(201);
    const r = await api("/managed-certificates", "POST", { instanceId: instanceA, caAccountId: unreachable.json.id, name: "nowhere", domains: [domain("nowhere")], challenge: { type: "http-01", port: await freePort() } });
    expect(r.status).toBe(201);
    const view = await until("registration error in the hub", async () => {
      const c = await getCert(r.json.id);
      return c?.status === "failed" && c.accountRegistration?.status === "error" ? c : null;
    }, 30_000);
    console.log(`unreachable directory: lastError=${view.lastError} | registration=${view.accountRegistration.message}`);
    expect(view.lastError).toMatch(/127\.0\.0\.1|connect|refused|unable/i);
    expect(view.accountRegistration.message).toBeTruthy();
    const acct = await api(`/ca-accounts/${unreachable.json.id}`);
    expect(acct.json.registrations).toEqual([expect.objectContaining({ instanceId: instanceA, status: "error", message: view.accountRegistration.message })]);
    // the Pebble account is registered on the same instance
    const good = await api(`/ca-accounts/${caAccountId}`);
    expect(good.json.registrations).toEqual(expect.arrayContaining([expect.objectContaining({ instanceId: instanceA, status: "registered" })]));
    expect((await api(`/managed-certificates/${r.json.id}`, "DELETE")).status).toBeLessThan(300);
    expect((await api(`/ca-accounts/${unreachable.json.id}`, "DELETE")).status).toBeLessThan(300);
    expect((await api("/managed-certificates")).json.length).toBe(countBefore);
  }, 45_000);

  test("deleting a credential still referenced → 409 naming its users; the credential and the certificate stay", async () => {
    const creds = (await api("/credentials")).json as any[];
    const tsig = creds.find((c) => c.type === "tsig");
    expect(tsig).toBeTruthy();
    const del = await api(`/credentials/${tsig.id}`, "DELETE");
    expect(del.status).toBe(409);
    expect(del.json.error).toMatch(/wild|use/i);
    expect((await api("/credentials")).json.map((c: any) => c.id)).toContain(tsig.id);
    const wildCert = ((await api("/managed-certificates")).json as any[]).find((c) => c.name === "wild");
    expect(wildCert.status).toBe("valid");
    // the same for a CA account in use
    const ca = await api(`/ca-accounts/${caAccountId}`, "DELETE");
    expect(ca.status).toBe(409);
    expect(ca.json.error).toMatch(/still used/);
    expect((await api(`/ca-accounts/${caAccountId}`)).status).toBe(200);
  });

  test("settings: externalManagers at instance scope → effective on that instance with its scope, reported by its agent", async () => {
    const certbotDir = tempDir("certhub-e2e-certbot-empty-");
    mkdirSync(path.join(certbotDir, "renewal"));
    const value = { certbot: { enabled: true, configPath: certbotDir, logPath: path.join(certbotDir, "log") }, "acme.sh": { enabled: false } };
    const put = await api("/settings/externalManagers", "PUT", { scope: "instance", scopeId: instanceA, value });
    expect(put.status).toBe(200);
    const eff = (await api(`/instances/${instanceA}/settings`)).json as any[];
    const em = eff.find((e) => e.key === "externalManagers");
    expect(em).toMatchObject({ scope: "instance", scopeId: instanceA });
    expect(em.value.certbot).toMatchObject({ enabled: true, configPath: certbotDir });
    const other = ((await api(`/instances/${instanceS}/settings`)).json as any[]).find((e) => e.key === "externalManagers");
    expect(other.scope).toBe("default");
    const own = await api(`/settings?scope=instance&scopeId=${instanceA}`);
    expect(JSON.stringify(own.json)).toContain(certbotDir);
    const inst = await until("the agent reports the configured path", async () => {
      const i = (await api(`/instances/${instanceA}`)).json;
      const cb = i.externalManagers?.find((m: any) => m.name === "certbot");
      return cb?.configPath === certbotDir && cb.scannedAt ? i : null;
    }, 20_000);
    expect(inst.externalManagers.find((m: any) => m.name === "acme.sh").status).toBe("disabled");
    expect((await api(`/settings/externalManagers?scope=instance&scopeId=${instanceA}`, "DELETE")).status).toBeLessThan(300);
  }, 30_000);

  test("a certificate for a revoked instance → 409 {error}; other definitions untouched", async () => {
    const before = ((await api("/managed-certificates")).json as any[]).map((c) => `${c.id}:${c.status}`).sort();
    expect((await api(`/instances/${instanceS}/revoke`, "POST", {})).status).toBeLessThan(300);
    const r = await api("/managed-certificates", "POST", { instanceId: instanceS, caAccountId, name: "revoked", domains: [domain("revoked")], challenge: { type: "http-01", port: pebble.httpPort } });
    expect(r.status).toBe(409);
    expect(r.json.error).toMatch(/revoked/);
    const after = ((await api("/managed-certificates")).json as any[]).map((c) => `${c.id}:${c.status}`).sort();
    expect(after).toEqual(before);
    // an instance cut off by revoking its joining key with the CLI
    expect((await runCli(["keys", "revoke", edgeKeyClientId], { dataDir: hubDir })).code).toBe(0);
    const cut = await api("/managed-certificates", "POST", { instanceId: edgeInstanceId, caAccountId, name: "cut off", domains: [domain("cutoff")], challenge: { type: "http-01", port: pebble.httpPort } });
    expect(cut.status).toBe(409);
    expect(cut.json.error).toMatch(/revoked/);
  });
});
