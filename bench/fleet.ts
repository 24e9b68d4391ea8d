// Fleet simulator for `npm run bench`: N simulated agents (default 2000, `--agents N`) that
// sign their requests exactly like the real agent (src/protocol/signing.ts: Ed25519 over
// method, path, instance id, time, seq, boot id and body hash), each with its own key, boot id
// and increasing sequence, and never more than one request in flight per agent.
//
// Setting up the fleet (once, shared by the scenarios below):
//   1. a joining key: `certhub keys create --title bench --max-uses J --json`
//   2. J = min(500, N/4) agents join through the real POST /api/agent/v1/join. The hub allows
//      600 join attempts per minute per source address, and fetch cannot bind 127.0.0.x source
//      addresses, so joining 2000 (or 100k) agents through the endpoint would take 3.3 min
//      (2.8 h); the rest are therefore
//   3. seeded straight into the hub's database file (WAL, so it is safe while the hub runs):
//      the same instance row a join writes, plus a settled state (2 certificates and their
//      hash, K delivered commands whose results are still to report, cursor K). The hub loads
//      them on first contact like any instance it has not cached yet (e.g. after a restart).
//   4. warm-up: every agent's first sync (facts, certificate hash; joined agents also send their
//      certificate list) — the cold path that loads the instance into the hub's cache.
//
// Scenarios (rows of the table; ratios are against /healthz driven by the same fetch loop,
// because wrk cannot sign requests):
//   agent-sync         unchanged syncs (204), the hot path: one per agent per 60 s in production
//   sync-with-results  each sync reports one command result (a write: recordResults)
//   sync-with-certs    each sync carries a changed certificate list (a write: replaceCertificates)
//   instances-page     GET /instances (signed-in session) with the whole fleet in the database
//   instances-api      GET /api/v1/instances?limit=50, same
//   global-setting-change   (bench/config-change.ts, its own hubs) a global setting changed with
//                      2,000 and 10,000 agents holding the push channel: time and hub CPU until
//                      every agent has the new config version
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { certificateRow } from "../src/db/certificates";
import { newInstanceId } from "../src/db/instances";
import { apiTokens, certificates, commands, instances } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { AGENT_API_PREFIX, JOIN_INSTANCE_ID, sha256HexOf, signRequest, signedPath, type CertificateReport, type Facts } from "../src/protocol";
import { VERSION } from "../src/version";
import { ADMIN_PASSWORD } from "../test/helpers";
import type { BenchContext, LoadResult, Scenario } from "./types";
import { CONFIG_SCENARIOS } from "./config-change";
import { summarize } from "./stats";

/** The roadmap target: 100k agents syncing every 60 s on one 2-core hub. */
const TARGET_AGENTS = 100_000;
const TARGET_INTERVAL_S = 60;
/** Joins through the endpoint: under the hub's 600/min per-address limit, with room to spare. */
const JOIN_BUDGET = 500;
const JOIN_CONCURRENCY = 8;
/** Hub default (src/hub/fleet/last-seen.ts): heartbeats are written in one batch this often. */
const LAST_SEEN_FLUSH_MS = 5000;
/** Agents needed for the one-sync-per-agent CPU figure. */
const MIN_AGENTS_FOR_PASS = 500;
/** Command rows seeded in total (spread over the seeded agents, 1..32 each). */
const SEEDED_COMMANDS = 50_000;

interface SimAgent {
  idx: number;
  id: string;
  key: KeyObject;
  publicKey: string;
  bootId: string;
  seq: number;
  facts: Facts;
  certs: CertificateReport[];
  certsHash: string;
  renewals: number;
  /** Highest command seq the agent holds. */
  cursor: number;
  /** Delivered commands whose results the agent has yet to report (seeded agents). */
  pendingResults: { id: string; seq: number }[];
  joined: boolean;
  /** The unchanged sync's body and its SHA-256, computed once per state change. */
  unchanged: { body: string; sha: string };
}

interface Fleet {
  agents: SimAgent[];
  notes: string[];
  notesShown: boolean;
  cookie?: string;
}

// ---------------------------------------------------------------------------------------------
// Simulated agents

function factsFor(idx: number): Facts {
  return { hostname: `bench-${String(idx).padStart(6, "0")}.example.net`, os: "Debian GNU/Linux 12", arch: "x64", version: VERSION };
}

function certsFor(hostname: string, renewal: number): CertificateReport[] {
  const notBefore = 1_767_225_600_000 + renewal * 86_400_000; // 2026-01-01 + renewals
  const cert = (id: string, name: string, source: CertificateReport["source"]): CertificateReport => ({
    id,
    name,
    domains: [name, `www.${name}`],
    source,
    status: "valid",
    notBefore,
    notAfter: notBefore + 90 * 86_400_000,
    serial: createHash("sha256").update(`${name}/${renewal}`).digest("hex").slice(0, 32),
    issuer: "CN=Bench CA,O=certhub bench",
  });
  return [cert("managed-web", hostname, "managed"), cert("certbot-api", `api.${hostname}`, "certbot")];
}

function setUnchanged(a: SimAgent) {
  const body = JSON.stringify({ settingsVersion: 1, cursor: a.cursor, certificatesHash: a.certsHash });
  a.unchanged = { body, sha: sha256HexOf(body) };
}

function newAgent(idx: number): SimAgent {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const facts = factsFor(idx);
  const certs = certsFor(facts.hostname, 0);
  const a: SimAgent = {
    idx,
    id: "",
    key: privateKey,
    publicKey: (publicKey.export({ format: "jwk" }) as { x: string }).x,
    bootId: createHash("sha256").update(`boot-${idx}-${Math.random()}`).digest("base64url").slice(0, 16),
    seq: 0,
    facts,
    certs,
    certsHash: sha256HexOf(JSON.stringify(certs)),
    renewals: 0,
    cursor: 0,
    pendingResults: [],
    joined: false,
    unchanged: { body: "", sha: "" },
  };
  setUnchanged(a);
  return a;
}

/** A signed POST exactly as src/agent/hub-client sends it (the body hash may be precomputed). */
function signedPost(url: string, a: SimAgent, endpoint: "join" | "sync", body: string, sha = sha256HexOf(body)): Promise<Response> {
  const seq = endpoint === "join" ? 0 : ++a.seq;
  const headers = signRequest(a.key, {
    method: "POST",
    path: signedPath(endpoint),
    instanceId: endpoint === "join" ? JOIN_INSTANCE_ID : a.id,
    time: Date.now(),
    seq,
    bootId: a.bootId,
    bodySha256: sha,
  });
  return fetch(`${url}${AGENT_API_PREFIX}/${endpoint}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

interface DriveOptions {
  agents: SimAgent[];
  concurrency: number;
  /** Run until then; without it every agent sends exactly one request. */
  durationMs?: number;
  send: (a: SimAgent) => Promise<Response>;
  /** Checks the answer and updates the agent; false counts as an error. */
  check: (a: SimAgent, status: number, body: string) => boolean;
}

/**
 * The fleet's load loop: `concurrency` workers take the agent that has waited longest from a
 * ring, send its request, and put it back when the answer is in — so each agent has at most
 * one request in flight and sequences arrive in order.
 */
async function drive(o: DriveOptions): Promise<LoadResult & { failures: string[] }> {
  const n = o.agents.length;
  const ring = o.agents.slice();
  let head = 0;
  let queued = n;
  const once = o.durationMs === undefined;
  const latencies: number[] = [];
  const failures: string[] = [];
  let errors = 0;
  const started = performance.now();
  const end = once ? Infinity : started + o.durationMs!;
  const worker = async () => {
    while (queued > 0 && performance.now() < end) {
      const a = ring[head];
      head = (head + 1) % n;
      queued--;
      const t = performance.now();
      let ok = false;
      try {
        const res = await o.send(a);
        const text = await res.text();
        ok = o.check(a, res.status, text);
        if (!ok && failures.length < 5) failures.push(`${res.status} ${text.slice(0, 200)}`);
      } catch (err) {
        if (failures.length < 5) failures.push(err instanceof Error ? err.message : String(err));
      }
      if (!ok) errors++;
      latencies.push(performance.now() - t);
      if (!once) {
        ring[(head + queued) % n] = a;
        queued++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, n)) }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  return { ...summarize(latencies, elapsedS), errors, tool: "fetch", failures };
}

function failIfBroken(what: string, r: { errors?: number; requests?: number; failures: string[] }) {
  if (r.errors && r.errors === r.requests) throw new Error(`${what}: every request failed, e.g. ${r.failures[0]}`);
}

// ---------------------------------------------------------------------------------------------
// Fleet setup

async function fleet(ctx: BenchContext): Promise<Fleet> {
  const have = ctx.shared.get("fleet") as Promise<Fleet> | undefined;
  if (have) return have;
  const p = setUpFleet(ctx);
  ctx.shared.set("fleet", p);
  return p;
}

async function setUpFleet(ctx: BenchContext): Promise<Fleet> {
  const n = ctx.options.agents;
  const joinCount = Math.min(JOIN_BUDGET, Math.ceil(n / 4));
  const notes: string[] = [];
  const url = ctx.hub.url;

  const created = await ctx.cli(["keys", "create", "--title", "bench", "--max-uses", String(joinCount), "--json"]);
  if (created.code !== 0) throw new Error(`keys create failed: ${created.stderr || created.stdout}`);
  const key = JSON.parse(created.stdout) as { clientId: string; secret: string };

  let t = performance.now();
  const agents = Array.from({ length: n }, (_, i) => newAgent(i));
  const keygenMs = performance.now() - t;

  // 2. Joins through the endpoint.
  const joining = agents.slice(0, joinCount);
  t = performance.now();
  const joinCpu0 = ctx.hubCpuSeconds();
  const joins = await drive({
    agents: joining,
    concurrency: JOIN_CONCURRENCY,
    send: (a) => signedPost(url, a, "join", JSON.stringify({ clientId: key.clientId, secret: key.secret, publicKey: a.publicKey, facts: a.facts })),
    check: (a, status, text) => {
      if (status !== 200) return false;
      a.id = (JSON.parse(text) as { instanceId: string }).instanceId;
      a.joined = true;
      return true;
    },
  });
  const joinCpu = cpuUs(ctx, joinCpu0, joins.requests);
  if (joins.errors) throw new Error(`${joins.errors} of ${joinCount} joins failed, e.g. ${joins.failures[0]}`);

  // 3. The rest go straight into the database.
  t = performance.now();
  const seeded = agents.slice(joinCount);
  const commandsEach = seeded.length ? Math.max(1, Math.min(32, Math.ceil(SEEDED_COMMANDS / seeded.length))) : 0;
  await seed(join(ctx.dataDir, "hub.db"), key.clientId, seeded, commandsEach);
  const seedMs = performance.now() - t;

  // 4. Warm-up: every agent's first sync after (re)starting, which loads it into the hub's cache.
  const warmCpu0 = ctx.hubCpuSeconds();
  const warm = await drive({
    agents,
    concurrency: ctx.options.connections,
    send: (a) =>
      signedPost(
        url,
        a,
        "sync",
        JSON.stringify({
          settingsVersion: 1,
          cursor: a.cursor,
          certificatesHash: a.certsHash,
          facts: a.facts,
          ...(a.joined ? { certificates: a.certs } : {}),
        }),
      ),
    check: (a, status, text) => (a.joined ? status === 200 && text.includes(a.certsHash) : status === 204),
  });
  const warmCpu = cpuUs(ctx, warmCpu0, warm.requests);
  if (warm.errors) throw new Error(`${warm.errors} of ${n} first syncs failed, e.g. ${warm.failures[0]}`);

  notes.push(
    `fleet of ${n} agents (key pairs in ${ms(keygenMs)}): ${joinCount} joined through /join ` +
      `(${joins.rps.toFixed(0)} joins/s at ${JOIN_CONCURRENCY} concurrent, p50 ${joins.p50Ms?.toFixed(1)} ms, ${fmtUs(joinCpu)} hub CPU each), ` +
      (seeded.length
        ? `${seeded.length} seeded into hub.db in ${ms(seedMs)} (the join limit of 600/min per source address would make ` +
          `${n} joins take ${(n / 600).toFixed(1)} min); `
        : "") +
      `first sync of each (cache load; joined ones report certificates): ` +
      `${warm.rps.toFixed(0)}/s, ${fmtUs(warmCpu)} hub CPU each`,
  );
  return { agents, notes, notesShown: false };
}

/** Writes instances (as a join would), their certificates and delivered commands. */
async function seed(dbPath: string, clientId: string, agents: SimAgent[], commandsEach: number) {
  if (agents.length === 0) return;
  const client = createClient({ url: `file:${dbPath}` });
  try {
    await client.execute("PRAGMA busy_timeout = 10000");
    const db = drizzle(client);
    const [token] = await db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.clientId, clientId));
    if (!token) throw new Error(`joining key ${clientId} not found in ${dbPath}`);
    const now = Date.now();
    for (const a of agents) {
      a.id = newInstanceId();
      a.cursor = commandsEach;
      a.pendingResults = Array.from({ length: commandsEach }, (_, i) => ({ id: newId("cmd_"), seq: i + 1 }));
      setUnchanged(a);
    }
    const chunks = <T>(list: T[], size: number) => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
    await db.transaction(async (tx) => {
      for (const part of chunks(agents, 200)) {
        await tx.insert(instances).values(
          part.map((a) => ({
            id: a.id,
            hostname: a.facts.hostname,
            os: a.facts.os,
            arch: a.facts.arch,
            version: a.facts.version,
            machineId: null,
            publicKey: a.publicKey,
            joiningKeyId: token.id,
            groupName: null,
            syncIntervalSeconds: TARGET_INTERVAL_S,
            lastIp: "127.0.0.1",
            lastBootId: a.bootId,
            lastSeq: 0,
            lastSeenAt: now,
            joinedAt: now,
            updatedAt: now,
            certificatesHash: a.certsHash,
            commandCursor: commandsEach,
            nextCommandSeq: commandsEach + 1,
          })),
        );
      }
      const certRows = agents.flatMap((a) =>
        a.certs.map((c) => certificateRow(a.id, { ...c, lastError: null }, now)),
      );
      for (const part of chunks(certRows, 500)) await tx.insert(certificates).values(part);
      const commandRows = agents.flatMap((a) =>
        a.pendingResults.map((c) => ({
          id: c.id,
          instanceId: a.id,
          seq: c.seq,
          type: "ping",
          payload: {},
          status: "delivered" as const,
          createdAt: now,
          createdBy: "bench",
          deliveredAt: now,
        })),
      );
      for (const part of chunks(commandRows, 500)) await tx.insert(commands).values(part);
    });
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

function cpuUs(ctx: BenchContext, before: number | null, requests: number | undefined): number | undefined {
  const now = ctx.hubCpuSeconds();
  return before === null || now === null || !requests ? undefined : ((now - before) * 1e6) / requests;
}

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`);
const fmtUs = (v: number | undefined) => (v === undefined ? "? µs" : `${v.toFixed(0)} µs`);

/** Ratio to the fetch-loop baseline, CPU use of both sides, and the fleet notes on first use. */
async function finish(ctx: BenchContext, f: Fleet, r: LoadResult & { failures?: string[] }, extra: string[]): Promise<LoadResult> {
  const base = await ctx.fetchBaseline();
  const notes = f.notesShown ? [] : f.notes;
  f.notesShown = true;
  notes.push(...extra);
  notes.push(
    `hub at ${r.hubCpuPct?.toFixed(0) ?? "?"}% of a core, load generator at ${r.clientCpuPct?.toFixed(0) ?? "?"}% ` +
      `(healthz: ${base.hubCpuPct?.toFixed(0) ?? "?"}% / ${base.clientCpuPct?.toFixed(0) ?? "?"}%)` +
      (r.clientCpuPct !== undefined && r.hubCpuPct !== undefined && r.clientCpuPct > r.hubCpuPct
        ? " — the load generator works harder than the hub: req/s understates the hub, hub µs/req is the figure to trust"
        : ""),
  );
  if (r.maxMs !== undefined) notes.push(`latency p50 ${r.p50Ms?.toFixed(1)} ms, p99 ${r.p99Ms?.toFixed(1)} ms, max ${r.maxMs.toFixed(0)} ms (healthz max ${base.maxMs?.toFixed(0) ?? "?"} ms)`);
  if (r.errors) notes.push(`${r.errors} failed requests, e.g. ${r.failures?.[0]}`);
  return { ...r, baseline: { name: "healthz fetch loop", rps: base.rps, hubCpuUs: base.hubCpuUs }, notes };
}

const agentSync: Scenario = {
  name: "agent-sync",
  async run(ctx) {
    const f = await fleet(ctx);
    const url = ctx.hub.url;
    await ctx.fetchBaseline();
    const unchanged = (a: SimAgent) => signedPost(url, a, "sync", a.unchanged.body, a.unchanged.sha);
    const r = await ctx.measured(() =>
      drive({ agents: f.agents, concurrency: ctx.options.connections, durationMs: ctx.options.durationS * 1000, send: unchanged, check: (_, s) => s === 204 }),
    );
    failIfBroken("agent-sync", r);

    // Production rhythm: each agent syncs once per flush window, so every sync also costs one
    // row in the batched last-seen write. One pass over the fleet plus the flush after it
    // (with a few hundred agents at least: CPU time is counted in 10 ms ticks).
    let perSyncWithWrite: number | undefined;
    let pass: Awaited<ReturnType<typeof drive>> | undefined;
    if (f.agents.length >= MIN_AGENTS_FOR_PASS) {
      await Bun.sleep(LAST_SEEN_FLUSH_MS + 500); // the load's own heartbeats are written
      const cpu0 = ctx.hubCpuSeconds();
      pass = await drive({ agents: f.agents, concurrency: ctx.options.connections, send: unchanged, check: (_, s) => s === 204 });
      await Bun.sleep(LAST_SEEN_FLUSH_MS + 500);
      perSyncWithWrite = cpuUs(ctx, cpu0, pass.requests);
    }

    const base = await ctx.fetchBaseline();
    const needed = TARGET_AGENTS / TARGET_INTERVAL_S;
    const capacity = r.rps * TARGET_INTERVAL_S;
    const extra = [
      `${r.rps.toFixed(0)} unchanged syncs/s (${(r.rps / base.rps).toFixed(3)} × healthz ${base.rps.toFixed(0)}/s, same fetch loop, ${ctx.options.connections} concurrent); ` +
        `hub CPU ${fmtUs(r.hubCpuUs)} per sync (healthz ${fmtUs(base.hubCpuUs)}: × ${r.hubCpuUs && base.hubCpuUs ? (r.hubCpuUs / base.hubCpuUs).toFixed(2) : "?"})`,
      `capacity ≈ ${Math.round(capacity).toLocaleString("en")} agents at ${TARGET_INTERVAL_S} s ` +
        `(target ${TARGET_AGENTS.toLocaleString("en")} agents = ${needed.toFixed(0)} syncs/s: ${(r.rps / needed).toFixed(2)} × the required rate)`,
      pass === undefined
        ? `hub CPU per sync with its last-seen write: needs --agents ${MIN_AGENTS_FOR_PASS} or more`
        : perSyncWithWrite
        ? `one sync per agent incl. its row of the batched last-seen write: ${fmtUs(perSyncWithWrite)} hub CPU ` +
          `→ one fully busy hub core serves ≈ ${Math.round((TARGET_INTERVAL_S * 1e6) / perSyncWithWrite).toLocaleString("en")} agents at ${TARGET_INTERVAL_S} s; ` +
          `the target needs ${((needed * perSyncWithWrite) / 1e4).toFixed(0)}% of a core`
        : "hub CPU per sync with its last-seen write: unavailable (no /proc)",
    ];
    if (pass?.errors) extra.push(`${pass.errors} failed syncs in the one-per-agent pass, e.g. ${pass.failures[0]}`);
    return finish(ctx, f, r, extra);
  },
};

const syncWithResults: Scenario = {
  name: "sync-with-results",
  async run(ctx) {
    const f = await fleet(ctx);
    const url = ctx.hub.url;
    await ctx.fetchBaseline();
    const reporters = f.agents.filter((a) => a.pendingResults.length > 0);
    if (reporters.length === 0) throw new Error("no seeded agents with delivered commands (use more --agents)");
    let fresh = 0;
    let repeated = 0;
    const r = await ctx.measured(() =>
      drive({
        agents: reporters,
        concurrency: ctx.options.connections,
        durationMs: ctx.options.durationS * 1000,
        send: (a) => {
          // The oldest unacknowledged result; once all are stored the last one again (the idempotent path).
          const c = a.pendingResults[0] ?? { id: `cmd_bench_done_${a.idx}`, seq: a.cursor };
          const result = { commandId: c.id, seq: c.seq, status: "succeeded", message: "pong", data: { rttMs: 1 }, completedAt: Date.now() };
          return signedPost(url, a, "sync", JSON.stringify({ settingsVersion: 1, cursor: a.cursor, certificatesHash: a.certsHash, results: [result] }));
        },
        check: (a, status, text) => {
          if (status !== 200) return false;
          const acked = (JSON.parse(text) as { ackResults?: string[] }).ackResults ?? [];
          if (a.pendingResults.length && acked.includes(a.pendingResults[0].id)) {
            a.pendingResults.shift();
            fresh++;
          } else repeated++;
          return true;
        },
      }),
    );
    failIfBroken("sync-with-results", r);
    return finish(ctx, f, r, [
      `${r.rps.toFixed(0)} syncs/s carrying a command result over ${reporters.length} agents (${fresh} results stored, ${repeated} already stored or unknown); hub CPU ${fmtUs(r.hubCpuUs)} per sync`,
    ]);
  },
};

const syncWithCerts: Scenario = {
  name: "sync-with-certs",
  async run(ctx) {
    const f = await fleet(ctx);
    const url = ctx.hub.url;
    await ctx.fetchBaseline();
    const sent = new Map<SimAgent, { certs: CertificateReport[]; hash: string }>();
    const r = await ctx.measured(() =>
      drive({
        agents: f.agents,
        concurrency: ctx.options.connections,
        durationMs: ctx.options.durationS * 1000,
        send: (a) => {
          const certs = certsFor(a.facts.hostname, a.renewals + 1);
          const hash = sha256HexOf(JSON.stringify(certs));
          sent.set(a, { certs, hash });
          return signedPost(url, a, "sync", JSON.stringify({ settingsVersion: 1, cursor: a.cursor, certificatesHash: hash, certificates: certs }));
        },
        check: (a, status, text) => {
          const s = sent.get(a)!;
          if (status !== 200 || !text.includes(s.hash)) return false;
          a.renewals++;
          a.certs = s.certs;
          a.certsHash = s.hash;
          setUnchanged(a);
          return true;
        },
      }),
    );
    failIfBroken("sync-with-certs", r);
    return finish(ctx, f, r, [`${r.rps.toFixed(0)} syncs/s each replacing the agent's certificate list (2 certificates); hub CPU ${fmtUs(r.hubCpuUs)} per sync`]);
  },
};

/** Signs in as admin through the login form (once) and returns the session cookie. */
async function session(ctx: BenchContext, f: Fleet): Promise<string> {
  if (f.cookie) return f.cookie;
  const res = await fetch(`${ctx.hub.url}/login`, {
    method: "POST",
    body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD }),
    redirect: "manual",
  });
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
  if (res.status !== 303 || !cookie.includes("=")) throw new Error(`sign-in failed: ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (f.cookie = cookie);
}

function listScenario(name: string, path: string, check: (res: Response, body: string, n: number) => string | null): Scenario {
  return {
    name,
    async run(ctx) {
      const f = await fleet(ctx);
      const cookie = await session(ctx, f);
      // Check one answer first (a redirect to /login would look like success to wrk), then
      // time a second one on its own (the first also pays for compiling the route's code).
      const get = () => fetch(ctx.hub.url + path, { headers: { cookie }, redirect: "manual" });
      const res = await get();
      const body = await res.text();
      const t = performance.now();
      await (await get()).arrayBuffer();
      const once = performance.now() - t;
      const problem = res.status !== 200 ? `${path} answered ${res.status}` : check(res, body, f.agents.length);
      if (problem) throw new Error(problem);
      const r = await ctx.load({ path, headers: { cookie } });
      const notes = f.notesShown ? [] : f.notes;
      f.notesShown = true;
      return {
        ...r,
        notes: [...notes, `${path} with ${f.agents.length} instances: ${(body.length / 1024).toFixed(0)} KiB, single request ${once.toFixed(1)} ms, hub CPU ${fmtUs(r.hubCpuUs)} per request under load`],
      };
    },
  };
}

const instancesPage = listScenario("instances-page", "/instances", (_res, body) => (body.includes("bench-") ? null : "the page lists no bench instances"));
const instancesApi = listScenario("instances-api", "/api/v1/instances?limit=50", (res, body, n) => {
  const total = Number(res.headers.get("x-total-count"));
  if (total < n) return `X-Total-Count ${total}, expected at least ${n}`;
  return (JSON.parse(body) as unknown[]).length === 50 || n < 50 ? null : "expected 50 rows";
});

export const FLEET_SCENARIOS: Scenario[] = [agentSync, syncWithResults, syncWithCerts, instancesPage, instancesApi, ...CONFIG_SCENARIOS];
