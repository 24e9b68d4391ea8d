// "global setting change at N instances" for `npm run bench` (--only global-setting-change):
// N simulated agents (default 2,000 and 10,000; BENCH_CONFIG_AGENTS=2000,10000) in 10 groups,
// each with a managed certificate whose DNS-01 challenge names a global TSIG credential, under
// a global CA account, a global and a group setting — so every config has every kind of part.
// Each agent holds the push WebSocket like the real one, and on {nudge:true} syncs (signed, as
// src/protocol/signing.ts) and takes the config it is sent. Then a global setting is changed
// through the API and the scenario measures, until every agent holds the new config version:
// the time, the hub's CPU, its busiest second, how many agents synced in the first second, and
// /healthz latency meanwhile.
// Baselines from the same hub, same run: one pass of unchanged syncs (204) over the fleet, and
// one pass of full-config syncs (every agent sends version 0) at 64 at a time. Two controls say
// where a wave's extra cost per agent comes from: the 64-at-a-time pass again with the
// heartbeat flush that follows it counted (the wave counts its flushes), and the same
// full-config syncs paced like the wave's nudges (same window, 100 ms ticks) but sent without
// any push message, and unchanged syncs paced the same way.
// Each size runs its own hub (same binary as the rest of the bench: `--bin` compares builds).
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { AGENT_API_PREFIX, sha256HexOf, signRequest, signedPath } from "../src/protocol";
import { signIn, type Session } from "../test/helpers/session";
import { processCpuSeconds, pushHeaders, type WaitAgent } from "./held";
import { SPREAD_MAX_MS, SPREAD_MS_PER_INSTANCE } from "../src/hub/fleet/nudge-spread";
import { freshHub, seed, until } from "./scale";
import type { BenchContext, LoadResult, Scenario } from "./types";
import { summarize } from "./stats";

const GROUPS = 10;
/** Syncs one bench process keeps in flight (the hub sees them as agents syncing at once). */
const SYNC_CONCURRENCY = 256;

interface Agent extends WaitAgent {
  seq: number;
  version: number;
  /** When (performance.now()) it received each config version. */
  got: Map<number, number>;
  ws?: WebSocket;
  syncing: boolean;
  again: boolean;
}

interface Figures {
  agents: number;
  /** From the change until every agent holds the new version. */
  seconds: number;
  hubCpuS: number | null;
  /** hubCpuS less what the hub spends idle with the fleet connected over as long. */
  netCpuS: number | null;
  idleCpuPct: number;
  /** netCpuS per agent. */
  hubCpuUsPerAgent: number | null;
  /** Busiest second of the hub during the wave, % of one core. */
  peakCpuPct: number | null;
  inFirstSecond: number;
  arrivalP50S: number;
  arrivalP99S: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
  unchangedCpuUs: number | null;
  configPassCpuUs: number | null;
  configPassMs: number;
  /** The full-config pass with the heartbeat flush after it (less idle), per agent. */
  configPassFlushedCpuUs: number | null;
  /** Full-config syncs paced like the wave (no push messages), flushes included, per agent. */
  pacedCpuUs: number | null;
  pacedSeconds: number;
  /** Unchanged syncs paced the same way, per agent. */
  pacedUnchangedCpuUs: number | null;
  errors: number;
  /** Push sockets the hub closed during the scenario (the agent reconnects). */
  reconnects: number;
}

/** A tiny limiter: at most `n` promises from `fn` in flight. */
function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((ok) => queue.push(ok));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

async function syncOnce(url: string, a: Agent, version: number): Promise<{ status: number; version?: number }> {
  const body = JSON.stringify({ settingsVersion: version, cursor: 0 });
  const headers = signRequest(a.key, { method: "POST", path: signedPath("sync"), instanceId: a.id, time: Date.now(), seq: ++a.seq, bootId: a.bootId, bodySha256: sha256HexOf(body) });
  const res = await fetch(`${url}${AGENT_API_PREFIX}/sync`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status };
  const config = (JSON.parse(text) as { config?: { version: number } }).config;
  return { status: 200, version: config?.version };
}

/** Writes the fleet's groups and one managed certificate per instance straight into hub.db. */
async function seedConfig(dbPath: string, agents: Agent[], caAccountId: string, credentialId: string) {
  const client = createClient({ url: `file:${dbPath}` });
  try {
    await client.execute("PRAGMA busy_timeout = 10000");
    const now = Date.now();
    const stmts = agents.flatMap((a, i) => {
      const host = `h${createHash("sha256").update(a.id).digest("hex").slice(0, 10)}.example.net`;
      return [
        { sql: "UPDATE instances SET group_name = ? WHERE id = ?", args: [`g${i % GROUPS}`, a.id] },
        {
          sql:
            "INSERT INTO managed_certificates (id, instance_id, name, domains, ca_account_id, key_type, challenge, deployments, credential_ids, revision, created_at, updated_at) " +
            "VALUES (?, ?, ?, ?, ?, 'ecdsa-p256', ?, ?, ?, 1, ?, ?)",
          args: [
            `mc_bench${String(i).padStart(8, "0")}`,
            a.id,
            host,
            JSON.stringify([host, `www.${host}`]),
            caAccountId,
            JSON.stringify({ type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId }),
            JSON.stringify([{ type: "pem", directory: `/etc/ssl/${host}` }]),
            JSON.stringify([credentialId]),
            now,
            now,
          ],
        },
      ];
    });
    for (let i = 0; i < stmts.length; i += 1000) await client.batch(stmts.slice(i, i + 1000), "write");
  } finally {
    client.close();
  }
}

async function api(admin: Session, method: string, path: string, body: unknown): Promise<any> {
  const res = await admin.json(path, method, body);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

async function once(ctx: BenchContext, n: number): Promise<Figures> {
  const { hub, dataDir } = await freshHub(ctx);
  const pid = hub.proc.pid;
  const sockets = new Set<WebSocket>();
  let stopped = false;
  try {
    const admin = await signIn(hub.url);
    const ca = await api(admin, "POST", "/api/v1/ca-accounts", { title: "Bench CA", directoryUrl: "https://127.0.0.1:14000/dir", email: "", scope: "global" });
    const cred = await api(admin, "POST", "/api/v1/credentials", {
      title: "bench tsig",
      type: "tsig",
      scope: "global",
      secret: { name: "acme-key.", algorithm: "hmac-sha256", secret: Buffer.from("bench-secret-bench-secret").toString("base64") },
    });
    await api(admin, "PUT", "/api/v1/settings/defaultContactEmail", { scope: "global", value: "pki@example.com" });
    for (let g = 0; g < GROUPS; g++) await api(admin, "PUT", "/api/v1/settings/renewalDaysBeforeExpiry", { scope: "group", scopeId: `g${g}`, value: 20 + g });

    const agents: Agent[] = (await seed(ctx, dataDir, n)).map((w) => Object.assign(w, { seq: 0, version: 0, got: new Map<number, number>(), syncing: false, again: false }));
    await seedConfig(join(dataDir, "hub.db"), agents, ca.id, cred.id);
    let errors = 0;
    const limit = limiter(SYNC_CONCURRENCY);

    // Each agent's first sync: it takes its config (and the hub caches the instance).
    await Promise.all(
      agents.map((a) =>
        limit(async () => {
          const r = await syncOnce(hub.url, a, 0);
          if (r.version === undefined) throw new Error(`first sync of ${a.id}: ${r.status}`);
          a.version = r.version;
        }),
      ),
    );

    // As the real agent: on a nudge, sync; after the sync, tell the hub what it holds.
    const syncNow = (a: Agent) => {
      if (a.syncing) return void (a.again = true);
      a.syncing = true;
      void limit(async () => {
        try {
          const r = await syncOnce(hub.url, a, a.version);
          if (r.version !== undefined) {
            a.version = r.version;
            a.got.set(r.version, performance.now());
          } else if (r.status !== 204) {
            errors++;
            if (errors <= 3) console.error(`bench: sync of ${a.id} after a nudge answered ${r.status}`);
          }
        } catch {
          errors++;
        }
      }).finally(() => {
        a.syncing = false;
        if (!stopped && a.ws?.readyState === WebSocket.OPEN) a.ws.send(JSON.stringify({ cursor: 0, settingsVersion: a.version }));
        if (a.again) {
          a.again = false;
          syncNow(a);
        }
      });
    };
    let holding = 0;
    let reconnects = 0;
    const open = (a: Agent): Promise<void> =>
      new Promise<void>((settled) => {
        const ws = new WebSocket(`ws://127.0.0.1:${hub.port}${AGENT_API_PREFIX}/push?cursor=0&settingsVersion=${a.version}`, {
          headers: pushHeaders(a),
          perMessageDeflate: false,
        } as unknown as string[]);
        a.ws = ws;
        sockets.add(ws);
        let first = true;
        ws.onmessage = (e) => {
          if (first) {
            first = false;
            holding++;
            settled();
          }
          if (String(e.data).includes('"nudge":true')) syncNow(a);
        };
        ws.onclose = () => {
          sockets.delete(ws);
          if (first) settled();
          else holding--;
          // As the real agent: reconnect (the hub nudges at once on open when the version moved).
          if (!stopped) {
            reconnects++;
            setTimeout(() => void open(a), 1000 + Math.random() * 2000);
          }
        };
      });
    const queue = [...agents];
    await Promise.all(Array.from({ length: 256 }, async () => {
      for (let a = queue.shift(); a; a = queue.shift()) await open(a);
    }));
    if (!(await until(() => holding >= n, 60_000))) throw new Error(`only ${holding} of ${n} agents hold the push channel`);
    await Bun.sleep(2000);

    // Baselines on this hub: one unchanged sync per agent, then one full-config sync per agent.
    const pass = async (version: (a: Agent) => number, concurrency: number) => {
      const l = limiter(concurrency);
      const cpu0 = processCpuSeconds(pid);
      const t0 = performance.now();
      await Promise.all(agents.map((a) => l(() => syncOnce(hub.url, a, version(a)))));
      const ms = performance.now() - t0;
      const cpu1 = processCpuSeconds(pid);
      return { ms, cpuUs: cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) * 1e6) / n : null };
    };
    // The hub's CPU while the fleet just holds its sockets (timers, pings): subtracted below.
    const idleRateNow = async () => {
      const idle0 = processCpuSeconds(pid);
      const idleT0 = performance.now();
      await Bun.sleep(5000);
      const idle1 = processCpuSeconds(pid);
      return idle0 !== null && idle1 !== null ? (idle1 - idle0) / ((performance.now() - idleT0) / 1000) : 0;
    };
    const idleBefore = await idleRateNow();
    const unchanged = await pass((a) => a.version, 64);
    const flushed0 = processCpuSeconds(pid);
    const flushedT0 = performance.now();
    const configPass = await pass(() => 0, 64);
    await Bun.sleep(6000); // the passes' heartbeats are written (last-seen batch, every 5 s)
    const flushed1 = processCpuSeconds(pid);
    const configPassFlushedCpuUs =
      flushed0 !== null && flushed1 !== null ? ((flushed1 - flushed0 - idleBefore * ((performance.now() - flushedT0) / 1000)) * 1e6) / n : null;
    // Syncs at the wave's pace (agent i at i/n of the nudge window, on 100 ms ticks), their
    // heartbeat flush included: full-config ones, and unchanged ones (is a sync at that pace
    // dearer whatever it asks?).
    const windowMs = Math.min(SPREAD_MAX_MS, n * SPREAD_MS_PER_INSTANCE);
    const paced = async (version: (a: Agent) => number) => {
      const c0 = processCpuSeconds(pid);
      const t0 = performance.now();
      const runs: Promise<unknown>[] = [];
      for (let next = 0; next < n; ) {
        const due = Math.min(n, Math.floor(((performance.now() - t0) / windowMs) * n) + 1);
        for (; next < due; next++) runs.push(syncOnce(hub.url, agents[next], version(agents[next])).catch(() => errors++));
        if (next < n) await Bun.sleep(100);
      }
      await Promise.all(runs);
      await Bun.sleep(6000);
      return { c0, c1: processCpuSeconds(pid), seconds: (performance.now() - t0) / 1000 - 6 };
    };
    const pacedFull = await paced(() => 0);
    const pacedUnchanged = await paced((a) => a.version);
    const pacedSeconds = pacedFull.seconds;
    const idleRate = await idleRateNow();
    const pacedUs = (p: { c0: number | null; c1: number | null; seconds: number }) => (p.c0 !== null && p.c1 !== null ? ((p.c1 - p.c0 - idleRate * (p.seconds + 6)) * 1e6) / n : null);
    const pacedCpuUs = pacedUs(pacedFull);
    const pacedUnchangedCpuUs = pacedUs(pacedUnchanged);

    // The change.
    const target = agents[0].version + 1;
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const c = processCpuSeconds(pid);
      if (c !== null) samples.push(c);
    }, 1000);
    let healthStop = false;
    const healthRun = (async () => {
      const lat: number[] = [];
      while (!healthStop) {
        const t = performance.now();
        try {
          await (await fetch(`${hub.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).arrayBuffer();
        } catch {}
        lat.push(performance.now() - t);
        await Bun.sleep(100);
      }
      return lat;
    })();
    const cpu0 = processCpuSeconds(pid);
    samples.push(cpu0 ?? 0);
    const t0 = performance.now();
    await api(admin, "PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "global", value: 70 });
    const holdingAtChange = holding;
    const done = await until(() => agents.every((a) => a.version >= target), 180_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = processCpuSeconds(pid);
    clearInterval(sampler);
    healthStop = true;
    const lat = await healthRun;
    if (!done) throw new Error(`${agents.filter((a) => a.version < target).length} of ${n} agents never got config version ${target} (${holdingAtChange} held the push channel at the change, ${holding} now, ${reconnects} reconnects, ${errors} failed syncs)`);
    const arrivals = agents.map((a) => ((a.got.get(target) ?? performance.now()) - t0) / 1000).sort((x, y) => x - y);
    let peak: number | null = null;
    for (let i = 1; i < samples.length; i++) peak = Math.max(peak ?? 0, (samples[i] - samples[i - 1]) * 100);
    const h = summarize(lat, 1);
    const hubCpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    const netCpuS = hubCpuS !== null ? Math.max(0, hubCpuS - idleRate * seconds) : null;
    return {
      agents: n,
      seconds,
      hubCpuS,
      netCpuS,
      idleCpuPct: idleRate * 100,
      hubCpuUsPerAgent: netCpuS !== null ? (netCpuS * 1e6) / n : null,
      peakCpuPct: peak,
      inFirstSecond: arrivals.filter((s) => s < 1).length,
      arrivalP50S: arrivals[Math.floor(n * 0.5)],
      arrivalP99S: arrivals[Math.min(n - 1, Math.floor(n * 0.99))],
      healthzP99Ms: h.p99Ms ?? NaN,
      healthzMaxMs: h.maxMs ?? NaN,
      unchangedCpuUs: unchanged.cpuUs,
      configPassCpuUs: configPass.cpuUs,
      configPassMs: configPass.ms,
      configPassFlushedCpuUs,
      pacedCpuUs,
      pacedSeconds,
      pacedUnchangedCpuUs,
      errors,
      reconnects,
    };
  } finally {
    stopped = true;
    for (const ws of sockets) ws.close();
    await hub.stop();
  }
}

const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? "?" : v.toFixed(d));
const ratio = (a: number | null, b: number | null) => (a !== null && b ? (a / b).toFixed(1) : "?");

const globalSettingChange: Scenario = {
  name: "global-setting-change",
  async run(ctx): Promise<LoadResult> {
    const sizes = (process.env.BENCH_CONFIG_AGENTS ?? "2000,10000").split(",").map(Number).filter((x) => Number.isInteger(x) && x > 0);
    const figures: Figures[] = [];
    for (const n of sizes) figures.push(await once(ctx, n));
    const last = figures[figures.length - 1];
    return {
      // The row: agents brought to the new config per second, against the full-config pass of the same hub.
      rps: last.agents / last.seconds,
      hubCpuUs: last.hubCpuUsPerAgent ?? undefined,
      requests: last.agents,
      errors: figures.reduce((s, x) => s + x.errors, 0),
      tool: "fetch",
      baseline: { name: "full-config sync pass", rps: last.agents / (last.configPassMs / 1000), hubCpuUs: last.configPassCpuUs ?? undefined },
      notes: figures.map(
        (x) =>
          `${x.agents} agents: every agent on the new config version ${f(x.seconds)} s after the change; hub CPU ${f(x.hubCpuS, 2)} s, ` +
          `${f(x.netCpuS, 2)} s above its idle ${f(x.idleCpuPct)} % of a core (${f(x.hubCpuUsPerAgent, 0)} µs per agent = × ${ratio(x.hubCpuUsPerAgent, x.unchangedCpuUs)} an unchanged sync [${f(x.unchangedCpuUs, 0)} µs], ` +
          `× ${ratio(x.hubCpuUsPerAgent, x.configPassCpuUs)} a full-config sync [${f(x.configPassCpuUs, 0)} µs; pass of ${x.agents} at 64 concurrent in ${f(x.configPassMs / 1000)} s]); ` +
          `controls: the full-config pass with its heartbeat flush ${f(x.configPassFlushedCpuUs, 0)} µs, full-config syncs paced like the wave without push messages ${f(x.pacedCpuUs, 0)} µs per agent (over ${f(x.pacedSeconds)} s), unchanged syncs paced so ${f(x.pacedUnchangedCpuUs, 0)} µs; ` +
          `busiest second ${f(x.peakCpuPct, 0)} % of a core; ${x.inFirstSecond} agents synced in the first second, arrival p50 ${f(x.arrivalP50S)} s / p99 ${f(x.arrivalP99S)} s; ` +
          `/healthz meanwhile p99 ${f(x.healthzP99Ms)} ms, max ${f(x.healthzMaxMs, 0)} ms` +
          (x.errors ? `; ${x.errors} failed syncs` : "") +
          (x.reconnects ? `; ${x.reconnects} push reconnects` : ""),
      ),
      extra: { globalSettingChange: figures },
    };
  },
};

export const CONFIG_SCENARIOS: Scenario[] = [globalSettingChange];
