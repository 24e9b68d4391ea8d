// Deployment tasks end to end with the COMPILED binary (dist/certhub) and real peers: Pebble
// (real HTTP-01 validation, names resolved through BIND), openssl for the PKCS#12 files, a
// loopback webhook receiver and a loopback TLS server in this process. Driven through the JSON
// API like an outside script (an administrator token from `certhub keys create`).
//
// Covered: one certificate with PEM + PFX (modern and legacy, password from a stored credential)
// + script + webhook tasks on an agent started with --allow-scripts; each task's lastResult;
// "Test task" (one task alone, its output in lastTest); "Deploy now" (same serial, tasks again);
// the served check (unreachable → served → stale); an agent without --allow-scripts refusing a
// script task with the reason in the hub while the certificate stays valid with a deployment
// warning. kill -9 mid-deployment is covered in test/agent/certificates/pebble.test.ts ("kill -9
// during the deployment tasks, then restart: the tasks run again with the stored version").
// Measured times are printed at the end ("deployments e2e timings").
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, startHub, tempDir, type Hub } from "../helpers";
import { startBind, startPebble, type Bind, type Pebble } from "../helpers/acme-peers";
import { startAgent, until, type RunningAgent } from "./agents.fixtures";
import { adminApiAuth, type ApiAnswer, callApi, firstJoiningKey } from "./hub-api.fixtures";

const ZONE = "deploy.test";
const PFX_PASSWORD = "pfx-pass-Ünïcode-42";
const WEBHOOK_SECRET = "whsec-e2e-0123456789";
let hub: Hub;
let pebble: Pebble;
let bind: Bind;
let auth: string;
let joiningKey: { clientId: string; secret: string };
const agents: RunningAgent[] = [];
let scriptsAgent: string; // instance id of the agent with --allow-scripts
let plainAgent: string;
let caAccountId: string;
let passwordCredentialId: string;
let tokenCredentialId: string;
const timings: Record<string, number> = {};
const hooks: { body: string; signature: string | null }[] = [];
let hookServer: ReturnType<typeof Bun.serve>;
let tlsServer: ReturnType<typeof Bun.serve> | null = null;

const api = (p: string, method = "GET", body?: unknown): Promise<ApiAnswer> => callApi(hub.url, auth, p, method, body);
const getCert = async (id: string) => (await api(`/managed-certificates/${id}`)).json;
const normSerial = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^0+/, "");
const serialOf = (pem: string) => normSerial(new X509Certificate(pem).serialNumber);
const agentLogs = () => agents.map((a) => a.output().slice(-3000)).join("\n");

async function joinedAgent(args: string[] = []) {
  const dataDir = tempDir("certhub-e2e-deploy-agent-");
  const a = await startAgent({ dataDir, args });
  agents.push(a);
  const r = await a.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...joiningKey, url: hub.url }) });
  expect(r.status).toBe(200);
  const s = await until("joined and connected", async () => {
    const st = await a.status();
    return st.status === "connected" && st.instanceId ? st : null;
  }, 15_000);
  return s.instanceId as string;
}

async function waitFor<T>(what: string, id: string, fn: (c: any) => T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  return until(what, async () => fn(await getCert(id)), timeoutMs, 100).catch(async (err) => {
    throw new Error(`${err.message}\nlast view: ${JSON.stringify(await getCert(id))}\n${agentLogs()}`);
  });
}

function openssl(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(["openssl", ...args], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** A TLS server on 127.0.0.1:port serving this certificate chain and key. */
function serveTls(port: number, certPem: string, keyPem: string) {
  tlsServer?.stop(true);
  tlsServer = Bun.serve({ hostname: "127.0.0.1", port, tls: { cert: certPem, key: keyPem }, fetch: () => new Response("ok") });
}

beforeAll(async () => {
  const t0 = performance.now();
  bind = await startBind({ zone: ZONE, records: ["* 60 IN A 127.0.0.1", "* 60 IN AAAA ::1"] });
  pebble = await startPebble({ dnsServer: bind.server, env: { PEBBLE_WFE_NONCEREJECT: "0" } });
  const hubDir = tempDir("certhub-e2e-deploy-hub-");
  hub = await startHub({ dataDir: hubDir, env: { CERTHUB_SYNC_INTERVAL_SECONDS: "5" } });
  joiningKey = firstJoiningKey(hub);
  auth = await adminApiAuth(hubDir, "e2e deployments");
  hookServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      hooks.push({ body: await req.text(), signature: req.headers.get("x-certhub-signature") });
      return new Response("thanks");
    },
  });
  [scriptsAgent, plainAgent] = await Promise.all([joinedAgent(["--allow-scripts"]), joinedAgent()]);
  const ca = await api("/ca-accounts", "POST", { title: "Pebble", directoryUrl: pebble.directoryUrl, email: "ops@example.com", scope: "global", trustedRootsPem: pebble.caPem });
  expect(ca.status).toBe(201);
  caAccountId = ca.json.id;
  const pw = await api("/credentials", "POST", { title: "PFX password", type: "password", scope: "global", secret: { password: PFX_PASSWORD } });
  expect(pw.status).toBe(201);
  passwordCredentialId = pw.json.id;
  const tok = await api("/credentials", "POST", { title: "Webhook secret", type: "api-token", scope: "global", secret: { token: WEBHOOK_SECRET } });
  expect(tok.status).toBe(201);
  tokenCredentialId = tok.json.id;
  timings.setup = Math.round(performance.now() - t0);
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  tlsServer?.stop(true);
  hookServer?.stop(true);
  await hub?.stop();
  await pebble?.stop();
  await bind?.stop();
  console.log(`deployments e2e timings (ms): ${JSON.stringify(timings)}`);
});

describe("deployment tasks with the compiled binary and Pebble", () => {
  let id: string;
  let work: string;
  let pemDir: string;
  let verifyPort: number;
  let serial: string;
  const envFile = () => path.join(work, "script-env.txt");

  test("PEM + PFX (modern, legacy) + script + webhook after issuance: files, variables, signature, each task's lastResult", async () => {
    work = tempDir("certhub-e2e-deploy-out-");
    pemDir = path.join(work, "pem");
    mkdirSync(pemDir);
    verifyPort = await freePort();
    const t0 = performance.now();
    const created = await api("/managed-certificates", "POST", {
      instanceId: scriptsAgent,
      caAccountId,
      name: "deployed",
      domains: [`site.${ZONE}`],
      challenge: { type: "http-01", port: pebble.httpPort },
      verify: { host: "127.0.0.1", port: verifyPort },
      deployments: [
        { type: "pem", directory: pemDir },
        { type: "pfx", path: path.join(work, "modern.pfx"), passwordCredentialId, friendlyName: "site modern" },
        { type: "pfx", path: path.join(work, "legacy.pfx"), passwordCredentialId, encoding: "legacy", name: "for Windows 2016" },
        { type: "script", command: "/bin/sh", args: ["-c", `env | grep '^CERTHUB_' | sort | tee ${envFile()}`], name: "env dump" },
        { type: "webhook", url: `http://127.0.0.1:${hookServer.port}/hook`, secretCredentialId: tokenCredentialId },
      ],
    });
    expect(created.status).toBe(201);
    id = created.json.id;
    const view = await waitFor("valid with every task run", id, (c) => c?.status === "valid" && c.deployments.every((d: any) => d.lastResult) && c);
    timings.postToDeployed = Math.round(performance.now() - t0);
    serial = view.serial;
    for (const d of view.deployments) expect(d.lastResult, `${d.type}: ${d.lastResult.message}`).toMatchObject({ outcome: "succeeded", at: expect.any(Number), message: expect.any(String) });
    expect(view.deployments[3].lastResult.output).toContain(`CERTHUB_SERIAL=${serial}`);
    expect(view.served).toBe("unreachable"); // nothing listens on the verify port yet
    expect(view.attempts[0].message).toBe(`issued ${serial}; deployment warning: 127.0.0.1:${verifyPort} (SNI site.${ZONE}): unreachable`);

    // PEM files: the certificate the hub reports, with its key
    const certPem = readFileSync(path.join(pemDir, "cert.pem"), "utf8");
    expect(serialOf(certPem)).toBe(normSerial(serial));

    // PFX: openssl opens both with the stored password; wrong password refused; the right ciphers
    const modern = path.join(work, "modern.pfx");
    const legacy = path.join(work, "legacy.pfx");
    const m = openssl(["pkcs12", "-in", modern, "-passin", "env:PW", "-nokeys", "-clcerts", "-info"], { PW: PFX_PASSWORD });
    expect(m.code, m.err).toBe(0);
    expect(serialOf(m.out)).toBe(normSerial(serial));
    expect(m.err).toMatch(/PBES2.*AES-256-CBC/);
    expect(m.out).toContain("friendlyName: site modern");
    const mk = openssl(["pkcs12", "-in", modern, "-passin", "env:PW", "-nocerts", "-nodes"], { PW: PFX_PASSWORD });
    expect(mk.code, mk.err).toBe(0);
    expect(mk.out).toContain("PRIVATE KEY");
    const l = openssl(["pkcs12", "-legacy", "-in", legacy, "-passin", "env:PW", "-nodes", "-info"], { PW: PFX_PASSWORD });
    expect(l.code, l.err).toBe(0);
    expect(serialOf(l.out)).toBe(normSerial(serial));
    expect(l.err).toMatch(/pbeWithSHA1And3-KeyTripleDES-CBC/);
    expect(l.err).toMatch(/MAC: sha1/);
    expect(openssl(["pkcs12", "-in", modern, "-passin", "pass:wrong", "-nokeys"]).code).not.toBe(0);

    // Script: the documented variables
    const env = Object.fromEntries(readFileSync(envFile(), "utf8").trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    expect(env).toMatchObject({
      CERTHUB_CERTIFICATE_ID: id,
      CERTHUB_CERTIFICATE_NAME: "deployed",
      CERTHUB_DOMAINS: `site.${ZONE}`,
      CERTHUB_SERIAL: serial,
      CERTHUB_NOT_AFTER: new Date(view.notAfter).toISOString(),
      CERTHUB_NOT_BEFORE: new Date(view.notBefore).toISOString(),
      CERTHUB_CERT_PATH: path.join(pemDir, "cert.pem"),
      CERTHUB_KEY_PATH: path.join(pemDir, "privkey.pem"),
      CERTHUB_FULLCHAIN_PATH: path.join(pemDir, "fullchain.pem"),
      CERTHUB_CHAIN_PATH: path.join(pemDir, "chain.pem"),
      CERTHUB_PFX_PATH: legacy,
      CERTHUB_OUTCOME: "success",
      CERTHUB_INSTANCE_ID: scriptsAgent,
    });

    // Webhook: signed with the stored token, and the body names the certificate
    expect(hooks.length).toBe(1);
    const hook = hooks[0];
    expect(hook.signature).toBe(`sha256=${createHmac("sha256", WEBHOOK_SECRET).update(hook.body).digest("hex")}`);
    expect(JSON.parse(hook.body)).toMatchObject({ certificateId: id, serial, domains: [`site.${ZONE}`], outcome: "success" });
  }, 45_000);

  test("Test task: the script task alone, its output in lastTest; the other tasks do not run; a task number out of range is 404", async () => {
    const before = await getCert(id);
    const hooksBefore = hooks.length;
    writeFileSync(envFile(), "");
    const t0 = performance.now();
    const r = await api(`/managed-certificates/${id}/tasks/3/test`, "POST", {});
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ type: "test-task", status: "queued", certificateId: id, index: 3 });
    const after = await waitFor("test result", id, (c) => c.deployments[3].lastTest && c);
    timings.testTask = Math.round(performance.now() - t0);
    expect(after.deployments[3].lastTest).toMatchObject({ outcome: "succeeded", message: "/bin/sh: exited 0" });
    expect(after.deployments[3].lastTest.output).toContain(`CERTHUB_SERIAL=${serial}`);
    expect(after.deployments[3].lastTest.output).toContain("CERTHUB_OUTCOME=manual");
    expect(after.deployments[3].lastResult).toEqual(before.deployments[3].lastResult); // the deployment's own result stays
    expect(after.deployments[0].lastResult).toEqual(before.deployments[0].lastResult); // the PEM task did not run
    expect(after.deployments[0].lastTest).toBeNull();
    expect(hooks.length).toBe(hooksBefore); // nor did the webhook
    expect(readFileSync(envFile(), "utf8")).toContain(`CERTHUB_SERIAL=${serial}`);
    expect((await api(`/managed-certificates/${id}/tasks/9/test`, "POST", {})).status).toBe(404);
    expect((await api(`/managed-certificates/${id}/tasks/x/test`, "POST", {})).status).toBe(400);
  }, 20_000);

  test("served check: the deployed files served → served; Deploy now re-runs the tasks with the same serial; an old certificate served → stale", async () => {
    const fullchain = () => readFileSync(path.join(pemDir, "fullchain.pem"), "utf8");
    const keyPem = readFileSync(path.join(pemDir, "privkey.pem"), "utf8");
    serveTls(verifyPort, fullchain(), keyPem);
    const before = await getCert(id);
    const hooksBefore = hooks.length;
    const t0 = performance.now();
    expect((await api(`/managed-certificates/${id}/deploy`, "POST", {})).status).toBe(202);
    const deployed = await waitFor("deploy attempt", id, (c) => c.attempts[0]?.kind === "deploy" && c.attempts[0].at > before.attempts[0].at && c);
    timings.deployNow = Math.round(performance.now() - t0);
    expect(deployed.serial).toBe(serial); // no renewal
    expect(deployed.attempts[0]).toMatchObject({ outcome: "succeeded", serial });
    expect(deployed.served).toBe("served");
    for (const [i, d] of deployed.deployments.entries()) expect(d.lastResult.at, `task ${i}`).toBeGreaterThan(before.deployments[i].lastResult.at);
    expect(deployed.deployments[3].lastTest).toEqual(before.deployments[3].lastTest); // a deployment keeps the last test
    expect(hooks.length).toBe(hooksBefore + 1);
    expect(JSON.parse(hooks.at(-1)!.body)).toMatchObject({ serial, outcome: "manual" });

    // Someone serves another (older) certificate for the name: a self-signed one made now.
    const old = tempDir("certhub-e2e-deploy-old-");
    const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-subj", `/CN=site.${ZONE}`, "-days", "2"], { cwd: old });
    expect(made.exitCode).toBe(0);
    serveTls(verifyPort, readFileSync(path.join(old, "c.pem"), "utf8"), readFileSync(path.join(old, "k.pem"), "utf8"));
    const t1 = performance.now();
    expect((await api(`/managed-certificates/${id}/deploy`, "POST", {})).status).toBe(202); // the re-check (the scheduled one runs hourly)
    const stale = await waitFor("stale", id, (c) => c.served === "stale" && c);
    timings.staleDetected = Math.round(performance.now() - t1);
    expect(stale.serial).toBe(serial);
    expect(stale.attempts[0].steps.find((s: any) => s.name === "verify")).toMatchObject({ outcome: "failed", message: `127.0.0.1:${verifyPort} (SNI site.${ZONE}): stale` });
  }, 30_000);

  test("an agent without --allow-scripts refuses the script task with the reason in the hub; the certificate stays valid with a deployment warning; a check without a host looks at the first domain", async () => {
    const t0 = performance.now();
    const port = await freePort();
    const created = await api("/managed-certificates", "POST", {
      instanceId: plainAgent,
      caAccountId,
      name: "no scripts here",
      domains: [`plain.${ZONE}`, `www.plain.${ZONE}`],
      challenge: { type: "http-01", port: pebble.httpPort },
      deployments: [{ type: "script", command: "/bin/true" }],
      verify: { port },
    });
    expect(created.status).toBe(201);
    expect((await getCert(created.json.id)).verify).toEqual({ host: "", port });
    const view = await waitFor("refused script reported", created.json.id, (c) => c?.status === "valid" && c.deployments[0].lastResult && c);
    timings.refusedScript = Math.round(performance.now() - t0);
    expect(view.deployments[0].lastResult.outcome).toBe("failed");
    expect(view.deployments[0].lastResult.message).toContain("--allow-scripts");
    expect(view.status).toBe("valid");
    expect(view.lastError).toBeNull();
    expect(view.attempts[0].outcome).toBe("succeeded");
    expect(view.attempts[0].message).toContain("deployment warning");
    expect(view.attempts[0].message).toContain("--allow-scripts");
    // No host: the first domain, on the given port, SNI = that name (it resolves nowhere outside
    // the test's DNS, hence unreachable — the target named in the result is what is checked here).
    expect(view.attempts[0].steps.find((s: any) => s.name === "verify")).toMatchObject({ outcome: "failed", message: `plain.${ZONE}:${port} (first domain, SNI plain.${ZONE}): unreachable` });
    expect(view.served).toBe("unreachable");
  }, 30_000);
});
