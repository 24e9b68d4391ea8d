// The certificate lifecycle end to end against a real Pebble (real HTTP-01 validation through
// pebble-challtestsrv's DNS): an in-process hub with a CA account and managed certificates
// defined through its API, agents joined to it through a recording proxy (every body the agent
// sends is kept, to prove no private key ever leaves), and one agent in its own process to be
// killed with SIGKILL in the middle of an order.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createClient } from "@libsql/client";
import { Agent } from "../../../src/agent/agent";
import { getRenewalInfo } from "../../../src/agent/acme";
import { freePort, ROOT, tempDir } from "../../helpers";
import { PEBBLE_EAB, startChallTestSrv, startPebble, type ChallTestSrv, type Pebble } from "../../helpers/acme-peers";
import { recordingProxy, type SentBody } from "../../helpers/recording-proxy";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";

let pebble: Pebble;
let dns: ChallTestSrv;
let hub: TestHub;
let admin: Session;
let proxy: ReturnType<typeof Bun.serve>;
let proxyUrl: string;
let caAccountId: string;
const sent: SentBody[] = [];
const agents: Agent[] = [];
/** Every log line the agents wrote (in-process and subprocess). */
const logs: string[] = [];
/** Data dirs of every agent that sent through the proxy (in-process and subprocess). */
const agentDirs: string[] = [];

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : last})` : ""}`);
    await Bun.sleep(50);
  }
}

async function api(pathname: string, method = "GET", body?: unknown) {
  const res = body === undefined ? await admin.fetch(pathname, { method }) : await admin.json(pathname, method, body);
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

async function newKey() {
  const r = await api("/api/v1/tokens", "POST", { title: `key ${Math.random().toString(36).slice(2, 8)}` });
  expect(r.status).toBe(201);
  return r.json as { clientId: string; secret: string };
}

async function joinedAgent() {
  const dataDir = tempDir("certhub-agent-");
  const agent = await Agent.create({ dataDir, listen: null, allowScripts: false }, (m) => logs.push(m), { dnsResolver: dns.dnsServer });
  await agent.start();
  agents.push(agent);
  agentDirs.push(dataDir);
  const key = await newKey();
  const { instanceId } = await agent.join({ url: proxyUrl, clientId: key.clientId, secret: key.secret, fingerprint: null });
  await until("first sync", async () => (await agent.status()).status === "connected");
  return { agent, instanceId, dataDir };
}

/** An agent in its own process (fixtures/agent-process.ts), joined through the proxy. */
async function agentProcess() {
  const dataDir = tempDir("certhub-agent-proc-");
  agentDirs.push(dataDir);
  const key = await newKey();
  const secretFile = path.join(tempDir("certhub-secret-"), "secret");
  writeFileSync(secretFile, key.secret);
  const script = path.join(ROOT, "test/agent/certificates/fixtures/agent-process.ts");
  const spawn = (join = false) => {
    const proc = Bun.spawn([process.execPath, script, dataDir, dns.dnsServer, ...(join ? [proxyUrl, key.clientId, secretFile] : [])], { stdout: "pipe", stderr: "pipe", cwd: ROOT });
    const buf = { text: "" };
    for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[]) {
      let mine = "";
      void (async () => {
        for await (const chunk of stream) {
          const t = new TextDecoder().decode(chunk);
          mine += t;
          buf.text += t;
        }
      })()
        .catch(() => {})
        .finally(() => logs.push(mine));
    }
    return Object.assign(proc, { output: () => buf.text });
  };
  const proc = spawn(true);
  await until("agent process joined", () => /joined (\S+)/.test(proc.output()), 20_000);
  const out = proc.output();
  return { dataDir, proc, instanceId: /joined (\S+)/.exec(out)![1], spawn };
}

let domainCounter = 0;
const uniqueDomain = (label: string) => `${label}-${process.pid}-${++domainCounter}.certhub.test`;

async function defineCertificate(instanceId: string, fields: Record<string, unknown>) {
  const r = await api("/api/v1/managed-certificates", "POST", { instanceId, caAccountId, ...fields });
  if (r.status !== 201) throw new Error(`create certificate: ${r.status} ${r.text}`);
  return r.json.id as string;
}

const getCert = async (id: string) => (await api(`/api/v1/managed-certificates/${id}`)).json;

/** The agent's current version of a certificate, read from its data dir. */
function currentFiles(dataDir: string, id: string, serial: string) {
  const dir = path.join(dataDir, "certificates", id, serial);
  return { dir, cert: readFileSync(path.join(dir, "cert.pem"), "utf8"), key: readFileSync(path.join(dir, "privkey.pem"), "utf8") };
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, "");
const normSerial = (s: string) => s.toLowerCase().replace(/^0+/, "");

beforeAll(async () => {
  dns = await startChallTestSrv();
  // Real validation (no PEBBLE_VA_ALWAYS_VALID); bad nonces off for speed (the ACME client's own
  // tests cover them); authorization reuse off so every order really validates.
  pebble = await startPebble({ dnsServer: dns.dnsServer, env: { PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
  hub = await startTestHub();
  admin = await signIn(hub.url);
  proxy = recordingProxy(hub.url, sent);
  proxyUrl = `http://127.0.0.1:${proxy.port}`;
  const r = await api("/api/v1/ca-accounts", "POST", {
    title: "Pebble",
    directoryUrl: pebble.directoryUrl,
    email: "ops@example.com",
    scope: "global",
    trustedRootsPem: pebble.caPem,
  });
  if (r.status !== 201) throw new Error(`create CA account: ${r.status} ${r.text}`);
  caAccountId = r.json.id;
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  proxy?.stop(true);
  await hub?.stop();
  await pebble?.stop();
  await dns?.stop();
});

describe("managed certificate lifecycle against Pebble", () => {
  let agent: Agent;
  let dataDir: string;
  let instanceId: string;
  let certId: string;
  let firstSerial: string;

  test("HTTP-01 standalone: issued on the agent, reported valid with Pebble's serial and notAfter", async () => {
    ({ agent, dataDir, instanceId } = await joinedAgent());
    const t0 = performance.now();
    certId = await defineCertificate(instanceId, { name: "web", domains: [uniqueDomain("web")], challenge: { type: "http-01", port: pebble.httpPort } });
    const view = await until("certificate valid in the hub", async () => {
      const c = await getCert(certId);
      return c?.status === "valid" && c.serial ? c : null;
    }, 60_000);
    console.log(`defined → valid in the hub: ${(performance.now() - t0).toFixed(0)} ms`);
    const files = currentFiles(dataDir, certId, view.serial);
    const x = new X509Certificate(files.cert);
    expect(normSerial(view.serial)).toBe(serialOf(files.cert));
    expect(view.serial).toMatch(/^[0-9a-f]+$/);
    expect(view.notAfter).toBe(Date.parse(x.validTo));
    expect(view.notBefore).toBe(Date.parse(x.validFrom));
    expect(view.issuer).toMatch(/Pebble/i);
    expect(x.issuer).toMatch(/Pebble/i);
    expect(view.nextRenewalAt).toBeGreaterThan(Date.now());
    expect(view.nextRenewalAt).toBeLessThan(view.notAfter);
    // private key 0600 in a 0700 directory
    expect(statSync(path.join(files.dir, "privkey.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(files.dir).mode & 0o777).toBe(0o700);
    expect(x.checkPrivateKey((await import("node:crypto")).createPrivateKey(files.key))).toBe(true);
    const attempt = view.attempts[0];
    expect(attempt.outcome).toBe("succeeded");
    const stepNames = attempt.steps.map((s: { name: string }) => s.name);
    for (const name of ["preflight", "account", "order", "challenge", "finalize", "store"]) expect(stepNames).toContain(name);
    for (const s of attempt.steps) expect(typeof s.ms).toBe("number");
    firstSerial = view.serial;
    // The agent registered the CA account with its own key and told the hub (not the key).
    const reg = await until("registration in the hub", async () => {
      const acc = (await api(`/api/v1/ca-accounts/${caAccountId}`)).json;
      return acc?.registrations?.find((r: { instanceId: string }) => r.instanceId === instanceId);
    });
    expect(reg.status).toBe("registered");
    expect(reg.accountUrl).toContain(new URL(pebble.directoryUrl).host);
  }, 90_000);

  test("the instance-level renew-now yields a new serial and keeps the previous version", async () => {
    expect(firstSerial).toBeTruthy();
    const r = await api(`/api/v1/instances/${instanceId}/commands`, "POST", { type: "renew-now", payload: {} });
    expect(r.status).toBe(202);
    const view = await until("new serial in the hub", async () => {
      const c = await getCert(certId);
      return c?.status === "valid" && c.serial && c.serial !== firstSerial ? c : null;
    }, 60_000);
    const versions = readdirSync(path.join(dataDir, "certificates", certId)).sort();
    expect(versions).toEqual([firstSerial, view.serial].sort());
    expect(serialOf(currentFiles(dataDir, certId, view.serial).cert)).toBe(normSerial(view.serial));
    expect(serialOf(currentFiles(dataDir, certId, firstSerial).cert)).toBe(normSerial(firstSerial));
    expect(view.attempts[0]).toMatchObject({ outcome: "succeeded", kind: "renew" });
    expect(view.attempts[1]).toMatchObject({ outcome: "succeeded", kind: "issue" });
    // a forced order skips the preflight
    expect(view.attempts[0].steps.map((s: { name: string }) => s.name)).not.toContain("preflight");
  }, 90_000);

  test("editing only the tasks does not re-order; Deploy now writes the PEM files with the current version", async () => {
    const before = await getCert(certId);
    const out = path.join(tempDir("certhub-deploy-"), "site");
    mkdirSync(out);
    const put = await api(`/api/v1/managed-certificates/${certId}`, "PUT", { deployments: [{ type: "pem", directory: out }] });
    expect(put.status).toBe(200);
    await until("new revision on the agent", async () => (await getCert(certId))?.revision > before.revision || (await agent.certificates.reports()).some((r) => r.id === certId && r.revision! > before.revision));
    const r = await api(`/api/v1/managed-certificates/${certId}/deploy`, "POST", {});
    expect(r.status).toBe(202);
    const view = await until("deployment result in the hub", async () => {
      const c = await getCert(certId);
      return c?.deployments?.[0]?.lastResult?.outcome === "succeeded" ? c : null;
    });
    expect(view.serial).toBe(before.serial); // no new order
    expect(view.attempts[0]).toMatchObject({ kind: "deploy", outcome: "succeeded", serial: before.serial });
    expect(serialOf(readFileSync(path.join(out, "cert.pem"), "utf8"))).toBe(normSerial(before.serial));
    expect(readFileSync(path.join(out, "privkey.pem"), "utf8")).toBe(currentFiles(dataDir, certId, before.serial).key);
    expect(statSync(path.join(out, "privkey.pem")).mode & 0o777).toBe(0o600);
  }, 60_000);

  test("Test runs the preflight and records it per domain", async () => {
    const r = await api(`/api/v1/managed-certificates/${certId}/test`, "POST", {});
    expect(r.status).toBe(202);
    const view = await until("preflight attempt", async () => {
      const c = await getCert(certId);
      return c?.attempts?.[0]?.kind === "preflight" ? c : null;
    });
    expect(view.attempts[0].outcome).toBe("succeeded");
    expect(view.attempts[0].steps[0]).toMatchObject({ name: "preflight", outcome: "ok", domain: view.domains[0] });
  }, 60_000);

  test("a changed domain list orders again at once (after a passing preflight) and deploys the new version", async () => {
    const before = await getCert(certId);
    const domains = [before.domains[0], uniqueDomain("second")];
    const put = await api(`/api/v1/managed-certificates/${certId}`, "PUT", { domains });
    expect(put.status).toBe(200);
    const view = await until("re-ordered with two domains", async () => {
      const c = await getCert(certId);
      return c?.status === "valid" && c.serial !== before.serial && c.attempts[0]?.kind === "renew" && c.deployments?.[0]?.lastResult ? c : null;
    }, 60_000);
    const x = new X509Certificate(currentFiles(dataDir, certId, view.serial).cert);
    for (const d of domains) expect(x.subjectAltName).toContain(`DNS:${d}`);
    const steps = view.attempts[0].steps.map((s: { name: string }) => s.name);
    expect(steps).toContain("preflight");
    expect(steps).toContain("deploy");
    const out = view.deployments[0].directory as string;
    expect(serialOf(readFileSync(path.join(out, "cert.pem"), "utf8"))).toBe(normSerial(view.serial));
    // current and previous only
    expect(readdirSync(path.join(dataDir, "certificates", certId)).sort()).toEqual([before.serial, view.serial].sort());
  }, 90_000);

  test("a restart and a new config from the hub resume the plan: no new order", async () => {
    // Let the plan settle first: after an order the agent asks the CA for its ARI window.
    const before = await until("plan settled", async () => {
      const c = await getCert(certId);
      return !pebble.features.ari || c?.renewalReason === "ari" ? c : null;
    });
    await agent.stop();
    agent = await Agent.create({ dataDir, listen: null, allowScripts: false }, (m) => logs.push(m), { dnsResolver: dns.dnsServer });
    agents.push(agent);
    await agent.start();
    await until("reconnected", async () => (await agent.status()).status === "connected");
    const put = await api("/api/v1/settings/defaultContactEmail", "PUT", { scope: "instance", scopeId: instanceId, value: "pki@example.com" });
    expect(put.status).toBe(200);
    await until("new config applied", async () => (await agent.store.getSettings()).defaultContactEmail === "pki@example.com");
    await Bun.sleep(1500); // room for a wrong order to start
    const after = await getCert(certId);
    expect(after.serial).toBe(before.serial);
    expect(after.attempts.length).toBe(before.attempts.length);
    expect(after.nextRenewalAt).toBe(before.nextRenewalAt);
    expect(after.renewalReason).toBe(before.renewalReason);
  }, 60_000);

  test("a failing challenge (listener on the wrong port) reports failed with the CA's error and backs off", async () => {
    const before = Date.now();
    const events: any[] = [];
    const receiver = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => (events.push(await req.json()), new Response("ok")) });
    const id = await defineCertificate(instanceId, {
      name: "wrong-port",
      domains: [uniqueDomain("wrong")],
      challenge: { type: "http-01", port: await freePort() },
      deployments: [
        { type: "webhook", url: `http://127.0.0.1:${receiver.port}/hook`, trigger: "failure", name: "alert" },
        { type: "webhook", url: `http://127.0.0.1:${receiver.port}/hook`, name: "on success only" },
      ],
    });
    // The preflight passes (the agent reaches its own listener on that port); the CA, which
    // validates on port 5002, is the one that fails.
    const view = await until("certificate failed in the hub", async () => {
      const c = await getCert(id);
      return c?.status === "failed" && c.lastError ? c : null;
    }, 60_000);
    console.log(`failed order reported as: ${view.lastError}`);
    // Pebble's own words: it dials its HTTP-01 port, where nothing listens.
    expect(view.lastError).toMatch(/connection refused|connect/i);
    expect(view.renewalReason).toBe("backoff");
    expect(view.failureCount).toBe(1);
    expect(view.nextRenewalAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(view.nextRenewalAt).toBeLessThan(Date.now() + 5 * 60_000);
    expect(view.attempts[0].outcome).toBe("failed");
    expect(view.serial ?? null).toBeNull();
    // the failure-triggered task ran (and only it)
    const hub2 = await until("failure task result", async () => {
      const c = await getCert(id);
      return c?.deployments?.[0]?.lastResult ? c : null;
    });
    receiver.stop(true);
    expect(hub2.deployments[0].lastResult.outcome).toBe("succeeded");
    expect(hub2.deployments[1].lastResult.outcome).toBe("skipped");
    expect(events.length).toBe(1);
    expect(JSON.stringify(events[0])).toContain("fail");
    expect(existsSync(path.join(dataDir, "certificates", id)) ? readdirSync(path.join(dataDir, "certificates", id)) : []).toEqual([]);
  }, 90_000);

  test("kill -9 in the middle of an order, then restart: retried cleanly, nothing half-stored", async () => {
    const p = await agentProcess();
    const id = await defineCertificate(p.instanceId, { name: "killed", domains: [uniqueDomain("kill")], challenge: { type: "http-01", port: pebble.httpPort } });
    const db = createClient({ url: `file:${path.join(p.dataDir, "agent.db")}` });
    await until("order started", async () => {
      const r = await db.execute({ sql: "select order_started_at from certificates where id = ?", args: [id] });
      return r.rows[0]?.order_started_at != null;
    }, 30_000);
    let proc = p.proc;
    proc.kill("SIGKILL");
    await proc.exited;
    const killed = (await db.execute({ sql: "select current_dir, order_started_at from certificates where id = ?", args: [id] })).rows[0];
    expect(killed.current_dir).toBeNull(); // killed before the new version became current
    expect(killed.order_started_at).not.toBeNull();
    db.close();
    const procDir = p.dataDir;
    const spawnAgent = p.spawn;
    const t0 = performance.now();

    proc = spawnAgent();
    try {
      const view = await until("valid after the restart", async () => {
        const c = await getCert(id);
        return c?.status === "valid" && c.serial ? c : null;
      }, 60_000);
      console.log(`restart after kill -9 → valid in the hub: ${(performance.now() - t0).toFixed(0)} ms`);
      expect(view.attempts.some((a: { outcome: string }) => a.outcome === "interrupted")).toBe(true);
      expect(view.attempts[0].outcome).toBe("succeeded");
      // exactly one complete version, no temporary leftovers
      const versions = readdirSync(path.join(procDir, "certificates", id));
      expect(versions).toEqual([view.serial]);
      expect(serialOf(readFileSync(path.join(procDir, "certificates", id, view.serial, "cert.pem"), "utf8"))).toBe(normSerial(view.serial));
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 120_000);

  test("kill -9 during the deployment tasks, then restart: the tasks run again with the stored version", async () => {
    const p = await agentProcess();
    const out = path.join(tempDir("certhub-deploy-"), "site");
    mkdirSync(out);
    const id = await defineCertificate(p.instanceId, {
      name: "deploy-killed",
      domains: [uniqueDomain("deploykill")],
      challenge: { type: "http-01", port: pebble.httpPort },
      deployments: [{ type: "wait", seconds: 5, name: "slow" }, { type: "pem", directory: out }],
    });
    const db = createClient({ url: `file:${path.join(p.dataDir, "agent.db")}` });
    const stored = await until("new version stored, tasks running", async () => {
      const r = await db.execute({ sql: "select serial, current_dir, deploy_pending from certificates where id = ?", args: [id] });
      return r.rows[0]?.current_dir && Number(r.rows[0].deploy_pending) === 1 ? r.rows[0] : null;
    }, 30_000);
    p.proc.kill("SIGKILL");
    await p.proc.exited;
    db.close();
    expect(existsSync(path.join(out, "cert.pem"))).toBe(false); // killed before the PEM task
    const proc = p.spawn();
    try {
      const view = await until("tasks finished after the restart", async () => {
        const c = await getCert(id);
        return c?.deployments?.[1]?.lastResult?.outcome === "succeeded" ? c : null;
      }, 60_000);
      expect(view.serial).toBe(String(stored.serial)); // no new order
      expect(view.attempts[0]).toMatchObject({ kind: "deploy", outcome: "succeeded" });
      expect(view.attempts[0].message).toContain("resumed");
      expect(serialOf(readFileSync(path.join(out, "cert.pem"), "utf8"))).toBe(normSerial(view.serial));
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }, 120_000);

  test("ARI: the plan lies inside the CA's window, Retry-After is honoured, and a window moved into the past renews", async () => {
    if (!pebble.features.ari) throw new Error(`ARI NOT TESTED: this Pebble (${pebble.bin.source}) has no renewalInfo; fetch pebble 2.10 (see test/helpers/acme-peers.ts)`);
    const a = await joinedAgent();
    const id = await defineCertificate(a.instanceId, { name: "ari", domains: [uniqueDomain("ari")], challenge: { type: "http-01", port: pebble.httpPort } });
    const first = await until("planned from ARI", async () => {
      const c = await getCert(id);
      return c?.status === "valid" && c.renewalReason === "ari" ? c : null;
    }, 60_000);
    const certPem = currentFiles(a.dataDir, id, first.serial).cert;
    const window = await getRenewalInfo({ directoryUrl: pebble.directoryUrl, trustedRootsPem: pebble.caPem, certPem });
    expect(window).not.toBeNull();
    expect(first.nextRenewalAt).toBeGreaterThanOrEqual(window!.start);
    expect(first.nextRenewalAt).toBeLessThanOrEqual(window!.end);
    const db = createClient({ url: `file:${path.join(a.dataDir, "agent.db")}` });
    const row = (await db.execute({ sql: "select ari_fetch_at from certificates where id = ?", args: [id] })).rows[0];
    // Pebble answers Retry-After: 21600: the next question is about 6 h away, not sooner.
    expect(Number(row.ari_fetch_at)).toBeGreaterThan(Date.now() + 5.9 * 3600_000);
    expect(Number(row.ari_fetch_at)).toBeLessThan(Date.now() + 6.1 * 3600_000);

    // The CA moves the window into the past (as after a revocation); six hours later (the
    // agent restarted meanwhile) the agent asks again, and renews.
    await a.agent.stop();
    await pebble.setRenewalInfo(certPem, { suggestedWindow: { start: new Date(Date.now() - 2 * 3600_000).toISOString(), end: new Date(Date.now() - 3600_000).toISOString() } });
    await db.execute({ sql: "update certificates set ari_fetch_at = ? where id = ?", args: [Date.now() - 1000, id] });
    db.close();
    const again = await Agent.create({ dataDir: a.dataDir, listen: null, allowScripts: false }, () => {}, { dnsResolver: dns.dnsServer });
    agents.push(again);
    await again.start();
    const renewed = await until("renewed inside the past ARI window", async () => {
      const c = await getCert(id);
      return c?.status === "valid" && c.serial !== first.serial ? c : null;
    }, 60_000);
    expect(renewed.attempts[0]).toMatchObject({ kind: "renew", outcome: "succeeded" });
  }, 120_000);

  test("served check: unreachable before the service runs, served once it does, stale after a renewal it did not pick up", async () => {
    const dataDir = tempDir("certhub-agent-");
    agentDirs.push(dataDir);
    const a = await Agent.create({ dataDir, listen: null, allowScripts: false }, () => {}, { dnsResolver: dns.dnsServer, verifyIntervalMs: 200 });
    await a.start();
    agents.push(a);
    const key = await newKey();
    const { instanceId: inst } = await a.join({ url: proxyUrl, clientId: key.clientId, secret: key.secret, fingerprint: null });
    const port = await freePort();
    const id = await defineCertificate(inst, { name: "verified", domains: [uniqueDomain("verify")], challenge: { type: "http-01", port: pebble.httpPort }, verify: { host: "127.0.0.1", port } });
    const first = await until("issued, nothing served yet", async () => {
      const c = await getCert(id);
      return c?.status === "valid" && c.served === "unreachable" ? c : null;
    }, 60_000);
    const serve = (serial: string) => {
      const f = currentFiles(dataDir, id, serial);
      return Bun.serve({ hostname: "127.0.0.1", port, tls: { cert: readFileSync(path.join(f.dir, "fullchain.pem"), "utf8"), key: f.key }, fetch: () => new Response("ok") });
    };
    let server = serve(first.serial);
    try {
      await until("served", async () => (await getCert(id))?.served === "served");
      expect((await api(`/api/v1/managed-certificates/${id}/renew`, "POST", {})).status).toBe(202);
      const renewed = await until("renewed, old one still served", async () => {
        const c = await getCert(id);
        return c?.serial !== first.serial && c?.status === "valid" && c.served === "stale" ? c : null;
      }, 60_000);
      server.stop(true);
      server = serve(renewed.serial); // the service reloads
      await until("served again", async () => (await getCert(id))?.served === "served");
    } finally {
      server.stop(true);
    }
  }, 120_000);

  test("a CA that requires EAB: registration error in the CA's words reaches the hub; adding the EAB key retries at once", async () => {
    const eabPebble = await startPebble({ dnsServer: dns.dnsServer, eabRequired: true, env: { PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
    try {
      const a = await joinedAgent();
      const acc = await api("/api/v1/ca-accounts", "POST", { title: "Pebble EAB", directoryUrl: eabPebble.directoryUrl, email: "ops@example.com", scope: "instance", scopeId: a.instanceId, trustedRootsPem: eabPebble.caPem });
      expect(acc.status).toBe(201);
      const r = await api("/api/v1/managed-certificates", "POST", { instanceId: a.instanceId, caAccountId: acc.json.id, name: "eab", domains: [uniqueDomain("eab")], challenge: { type: "http-01", port: eabPebble.httpPort } });
      expect(r.status).toBe(201);
      const id = r.json.id;
      const failed = await until("failed for lack of EAB", async () => {
        const c = await getCert(id);
        return c?.status === "failed" ? c : null;
      }, 60_000);
      console.log(`EAB missing: ${failed.lastError}`);
      expect(failed.lastError).toMatch(/external ?account/i);
      expect(failed.nextRenewalAt).toBeGreaterThan(Date.now() + 30_000); // backing off
      const reg = await until("registration error in the hub", async () => {
        const c = (await api(`/api/v1/ca-accounts/${acc.json.id}`)).json;
        return c?.registrations?.find((x: { instanceId: string; status: string }) => x.instanceId === a.instanceId && x.status === "error");
      });
      expect(reg.message).toMatch(/external ?account/i);

      // The admin adds the EAB key: the agent does not wait for the end of its back-off.
      const put = await api(`/api/v1/ca-accounts/${acc.json.id}`, "PUT", { email: "ops@example.com", trustedRootsPem: eabPebble.caPem, eab: PEBBLE_EAB });
      expect(put.status).toBe(200);
      const ok = await until("issued after the EAB key was added", async () => {
        const c = await getCert(id);
        return c?.status === "valid" ? c : null;
      }, 30_000);
      expect(ok.failureCount).toBe(0);
      await until("registered in the hub", async () => {
        const c = (await api(`/api/v1/ca-accounts/${acc.json.id}`)).json;
        return c?.registrations?.find((x: { instanceId: string; status: string }) => x.instanceId === a.instanceId && x.status === "registered");
      });
    } finally {
      await eabPebble.stop();
    }
  }, 120_000);

  test("no private key appears in any body the agents sent, nor in their logs", async () => {
    expect(sent.length).toBeGreaterThan(5);
    const syncs = sent.filter((s) => s.path.endsWith("/sync"));
    expect(syncs.some((s) => s.body.includes('"certificates"') && s.body.includes('"serial"'))).toBe(true);
    const keyBodies: string[] = [];
    for (const d of agentDirs) {
      const root = path.join(d, "certificates");
      if (!existsSync(root)) continue;
      for (const id of readdirSync(root)) for (const v of readdirSync(path.join(root, id))) keyBodies.push(readFileSync(path.join(root, id, v, "privkey.pem"), "utf8"));
    }
    expect(keyBodies.length).toBeGreaterThanOrEqual(2);
    const accountKeys: string[] = [];
    for (const d of agentDirs) {
      const db = createClient({ url: `file:${path.join(d, "agent.db")}` });
      const rows = (await db.execute("select key_jwk from ca_account_keys where key_jwk is not null")).rows;
      db.close();
      for (const r of rows) accountKeys.push(JSON.parse(String(r.key_jwk)).d);
    }
    expect(accountKeys.length).toBeGreaterThanOrEqual(1);
    expect(logs.join("\n")).toContain("issued serial"); // the logs were captured
    for (const s of [...sent, ...logs.map((l) => ({ path: "log", body: l }))]) {
      expect(s.body).not.toContain("PRIVATE KEY");
      for (const k of keyBodies) {
        const b64 = k.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
        expect(s.body.includes(b64.slice(0, 40))).toBe(false);
      }
      for (const d of accountKeys) expect(s.body.includes(d)).toBe(false);
    }
  });
});
