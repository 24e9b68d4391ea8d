// The reconnect-storm scenario for `npm run bench` (issue 13): --storm N[,M…] agents (default
// 2000) hold their push channel, once as the /wait long-poll (CERTHUB_PUSH=long-poll) and once
// as the WebSocket (/push, the default channel; --channel picks one); the hub is restarted on
// the same port and data dir.
// The agents follow the real agent's rules (bench/storm-agents.ts, a port of
// src/agent/sync/engine.ts and push.ts with its own jitter and backoff functions): a dropped
// WebSocket makes the agent sync within 0–5 s and reconnect after 0–5 s; syncs and re-polls
// that hit the stopped hub back off with full jitter (1 s, 2 s, 4 s … windows); 503/429 are
// retried no earlier than the Retry-After; a push channel is held again only once a sync has
// succeeded; and every agent keeps its periodic sync (60 s ±10 %, spread over the fleet).
// Measured from the moment the new hub answers: time until all hold again, time until all
// hold AND have completed a sync (the long-poll agent does not sync on a dropped wait, so its
// fleet is only all synced after a full periodic interval), sync latency meanwhile, and
// /healthz and a signed-in admin page, each on a new connection as a monitor or a browser
// would open it (two /healthz probes and one page probe in parallel, every 50 ms). Beside them,
// what explains a slow answer: the kernel's listen-queue overflows and SYN retransmits
// (system-wide counters; a dropped SYN costs 1 s, two 3 s), the hub's CPU during the storm
// (total, average and busiest second), and this process's own event-loop lag (the simulated
// fleet shares the machine with the hub), and how long the hub's event loop waited for a CPU
// (on a shared machine the storm's slow answers may be other people's load). Runs its own hubs
// (bench/scale.ts helpers). Environment: STORM_TIMELINE=1 prints a 100 ms timeline (accept
// queue, hub CPU and CPU wait, agents back and synced, the hub's admission queue),
// STORM_DEBUG=1 when sockets closed and push attempts failed, STORM_SYNC_ON_DROP=0 runs the
// control without the agent's sync after a dropped WebSocket.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { sha256HexOf } from "../src/protocol";
import { signIn } from "../test/helpers/session";
import { processCpuSeconds } from "./held";
import { f1, freshHub, seed, until } from "./scale";
import { runStormAgents, type StormFleet } from "./storm-agents";
import { summarize } from "./stats";
import type { BenchContext, Scenario } from "./types";

type Channel = "long-poll" | "websocket";

interface ProbeFigures {
  count: number;
  p50: number;
  p99: number;
  max: number;
  failed: number;
  /** Answers slower than 1 s (a dropped SYN alone costs that). */
  over1s: number;
}

interface SyncFigures {
  /** Sync attempts sent from the moment the new hub answered until all were synced (+1 s). */
  sent: number;
  /** Of those, answered (any status); latency percentiles are over the answered ones. */
  answered: number;
  p50: number;
  p99: number;
  max: number;
  /** No answer: connection refused or reset, or the agent's 30 s timeout. */
  unanswered: number;
  /** Answers other than 204/200, by status. */
  errors: Record<string, number>;
  /** Attempts while the hub was down (all refused): the backoff's own traffic. */
  whileDown: number;
}

export interface StormFigures {
  channel: Channel;
  /** false: the control run without the agent's sync after a dropped WebSocket (STORM_SYNC_ON_DROP=0). */
  syncOnDrop: boolean;
  agents: number;
  restartMs: number;
  allBackAfterUpMs: number | null;
  /** Every agent holds its push channel again and has completed a sync sent after the restart. */
  allSyncedAfterUpMs: number | null;
  /** When the last agent completed its sync (push channel aside). */
  lastSyncAfterUpMs: number | null;
  sync: SyncFigures;
  /** Agents on the long-poll when all were back (WebSocket agents whose upgrade hit the stopped hub fall back to it). */
  onLongPollAtEnd: number;
  /** Hub CPU from the moment it answered until all were synced (+1 s): seconds, and its busiest second. */
  hubCpuS: number | null;
  hubBusiestSecondPct: number | null;
  /** How long the hub's event loop was runnable but not running (other processes had the CPUs). */
  hubWaitedForCpuS: number | null;
  /** hubCpuS minus what the held fleet and the probes cost before the restart over as long: the storm's own CPU. */
  hubCpuAboveSteadyS: number | null;
  /** After the storm, fleet held, same probes for 5 s. */
  steady: { hubCpuPct: number | null; healthzP99: number; pageP99: number };
  counts: StormFleet["counts"];
  /** Failed push attempts (upgrade or wait) by what the hub answered, while it was down and after it answered. */
  pushFailures: Record<string, { whileDown: number; afterUp: number }>;
  healthz: ProbeFigures;
  page: ProbeFigures;
  listenOverflows: number | null;
  synRetransmits: number | null;
  hubCpuPct: number | null;
  clientLagMaxMs: number;
}

/** TcpExt counters from /proc/net/netstat (Linux; system-wide). */
function tcpExt(): Record<string, number> | null {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n").filter((l) => l.startsWith("TcpExt:"));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Object.fromEntries(names.map((n, i) => [n, Number(values[i])]));
  } catch {
    return null;
  }
}

/**
 * Seconds the process's main thread (the event loop) has spent runnable but waiting for a CPU
 * (/proc/<pid>/schedstat, field 2): on a shared machine, how much of a slow answer is the
 * machine's and not the hub's.
 */
function runQueueWaitS(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
  } catch {
    return null;
  }
}

/** The accept queue of the listening socket on `port`: [queued now, backlog] (/proc/net/tcp). */
function acceptQueue(port: number): [number, number] | null {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A") {
        const [tx, rx] = f[4].split(":").map((h) => parseInt(h, 16));
        return [rx, tx];
      }
    }
  } catch {}
  return null;
}

/**
 * With STORM_TIMELINE=1: every 100 ms after the new hub answered, the channels held, the
 * accept queue, listen overflows and hub CPU in that slice (printed after the run).
 */
function timeline(port: number, pid: number, holding: () => number, extra: () => string = () => "") {
  if (!process.env.STORM_TIMELINE) return () => {};
  const rows: string[] = [];
  const t0 = performance.now();
  let last = t0;
  let net = tcpExt();
  let cpu = processCpuSeconds(pid);
  let waited = runQueueWaitS(pid);
  const timer = setInterval(() => {
    const n = tcpExt();
    const c = processCpuSeconds(pid);
    const q = acceptQueue(port);
    const w = runQueueWaitS(pid);
    rows.push(
      `${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s  held ${String(holding()).padStart(6)}  accept queue ${q ? `${q[0]}/${q[1]}` : "?"}  overflows +${n && net ? n.ListenOverflows - net.ListenOverflows : "?"}  hub CPU ${c !== null && cpu !== null ? ((c - cpu) * 1000).toFixed(0) : "?"} ms, waited for a CPU ${w !== null && waited !== null ? ((w - waited) * 1000).toFixed(0) : "?"} ms  bench lag ${(performance.now() - last - 100).toFixed(0)} ms  ${extra()}`,
    );
    last = performance.now();
    net = n;
    cpu = c;
    waited = w;
  }, 100);
  return () => {
    clearInterval(timer);
    console.log(rows.join("\n"));
  };
}

/** Requests `run` every `gapMs` until stopped; each sample is its latency (failures count as failed). */
function probe(run: () => Promise<Response>, gapMs: number) {
  const samples: number[] = [];
  let failed = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t = performance.now();
      try {
        const res = await run();
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      } catch {
        failed++;
      }
      samples.push(performance.now() - t);
      await Bun.sleep(gapMs);
    }
  })();
  return {
    async stop(): Promise<ProbeFigures> {
      stopped = true;
      await done;
      const over1s = samples.filter((ms) => ms > 1000).length;
      const s = summarize(samples, 1);
      return { count: samples.length, p50: s.p50Ms ?? NaN, p99: s.p99Ms ?? NaN, max: s.maxMs ?? NaN, failed, over1s };
    },
  };
}

/** Largest delay of a 20 ms timer in this process: how busy the simulated fleet keeps it. */
function lagMonitor() {
  let max = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 20);
    last = now;
  }, 20);
  return () => {
    clearInterval(timer);
    return max;
  };
}

const mergeProbes = (a: ProbeFigures, b: ProbeFigures): ProbeFigures => ({
  count: a.count + b.count,
  p50: Math.max(a.p50, b.p50),
  p99: Math.max(a.p99, b.p99),
  max: Math.max(a.max, b.max),
  failed: a.failed + b.failed,
  over1s: a.over1s + b.over1s,
});

/** The certificate-list hash every simulated agent holds (seeded as acknowledged, so syncs are 204). */
const STORM_CERTS_HASH = sha256HexOf("bench reconnect-storm: no certificates");
const SYNC_INTERVAL_S = 60;

async function seedStormAgents(ctx: BenchContext, dataDir: string, n: number) {
  const agents = await seed(ctx, dataDir, n);
  const client = createClient({ url: `file:${join(dataDir, "hub.db")}` });
  try {
    await client.execute("PRAGMA busy_timeout = 10000");
    await client.execute({ sql: "UPDATE instances SET certificates_hash = ?, sync_interval_seconds = ?", args: [STORM_CERTS_HASH, SYNC_INTERVAL_S] });
  } finally {
    client.close();
  }
  return agents;
}

/** Hub CPU in 1 s slices: the busiest one, in % of a core. */
function cpuSlices(pid: number) {
  let last = processCpuSeconds(pid);
  let lastT = performance.now();
  let busiest = 0;
  const timer = setInterval(() => {
    const c = processCpuSeconds(pid);
    const t = performance.now();
    if (c !== null && last !== null) busiest = Math.max(busiest, ((c - last) / ((t - lastT) / 1000)) * 100);
    last = c;
    lastT = t;
  }, 1000);
  return () => {
    clearInterval(timer);
    return last === null ? null : busiest;
  };
}

function syncFigures(fleet: StormFleet, downAt: number, upAt: number, endAt: number): SyncFigures {
  const during = fleet.syncs.filter((s) => s.at >= upAt && s.at <= endAt);
  const answered = during.filter((s) => s.status !== 0);
  const errors: Record<string, number> = {};
  for (const s of answered) if (s.status !== 204 && s.status !== 200) errors[s.status] = (errors[s.status] ?? 0) + 1;
  const st = summarize(answered.map((s) => s.ms), 1);
  return {
    sent: during.length,
    answered: answered.length,
    p50: st.p50Ms ?? NaN,
    p99: st.p99Ms ?? NaN,
    max: st.maxMs ?? NaN,
    unanswered: during.length - answered.length,
    errors,
    whileDown: fleet.syncs.filter((s) => s.at >= downAt && s.at < upAt).length,
  };
}

function pushFailures(fleet: StormFleet, downAt: number, upAt: number, endAt: number) {
  const out: Record<string, { whileDown: number; afterUp: number }> = {};
  for (const f of fleet.failures) {
    if (f.at < downAt || f.at > endAt) continue;
    const o = (out[f.what] ??= { whileDown: 0, afterUp: 0 });
    if (f.at < upAt) o.whileDown++;
    else o.afterUp++;
  }
  return out;
}

/** Hub CPU (% of a core) and /healthz with the fleet held and the probes of the storm running. */
async function steadyRate(hub: { url: string; proc: { pid: number } }, admin: Awaited<ReturnType<typeof signIn>>, ms: number) {
  const probes = [
    probe(() => fetch(`${hub.url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
    probe(() => fetch(`${hub.url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
    probe(() => admin.fetch("/instances", { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
  ];
  const cpu0 = processCpuSeconds(hub.proc.pid);
  const t0 = performance.now();
  await Bun.sleep(ms);
  const cpu1 = processCpuSeconds(hub.proc.pid);
  const wallS = (performance.now() - t0) / 1000;
  const [h1, h2, page] = await Promise.all(probes.map((p) => p.stop()));
  return { cpuPct: cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / wallS) * 100 : null, healthz: mergeProbes(h1, h2), page };
}

async function stormOnce(ctx: BenchContext, n: number, channel: Channel): Promise<StormFigures> {
  let { hub, dataDir } = await freshHub(ctx);
  let fleet: StormFleet | undefined;
  try {
    const agents = await seedStormAgents(ctx, dataDir, n);
    // STORM_SYNC_ON_DROP=0: a control without the agent's sync after a dropped WebSocket (the storm as this bench saw it before).
    fleet = runStormAgents({ port: hub.port, agents, channel, certificatesHash: STORM_CERTS_HASH, syncIntervalSeconds: SYNC_INTERVAL_S, syncOnDrop: process.env.STORM_SYNC_ON_DROP !== "0" });
    if (!(await until(() => fleet!.holding >= n, 120_000))) throw new Error(`${channel}: only ${fleet.holding} of ${n} agents hold their channel before the restart`);
    const admin = await signIn(hub.url); // the session is in the database: it outlives the restart
    // Held longer than 5 s, as a real fleet's channels are: the agent treats a channel dropped
    // sooner as a failure (backoff), not as a restart (0–5 s pause, and a sync).
    await Bun.sleep(6000);
    const port = hub.port;
    fleet.prepare();
    const restartT0 = performance.now();
    await hub.stop();
    ({ hub } = await freshHub(ctx, port, dataDir));
    const upAt = performance.now();
    const net0 = tcpExt();
    const cpu0 = processCpuSeconds(hub.proc.pid);
    const waited0 = runQueueWaitS(hub.proc.pid);
    const busiest = cpuSlices(hub.proc.pid);
    const lag = lagMonitor();
    const url = hub.url;
    const syncsBefore = fleet.syncs.length;
    // The hub's own queue of agent requests waiting for admission (middleware/agent-admission.ts).
    let queued = "?";
    const queuedTimer = process.env.STORM_TIMELINE
      ? setInterval(() => {
          void fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })
            .then((r) => r.text())
            .then((t) => (queued = t.match(/^certhub_agent_requests_queued (\d+)/m)?.[1] ?? "?"))
            .catch(() => {});
        }, 250)
      : undefined;
    const endTimeline = timeline(port, hub.proc.pid, () => fleet!.holding, () => {
      const recent = fleet!.syncs.slice(syncsBefore);
      return `synced ${fleet!.synced(restartT0)}  ready ${fleet!.ready(restartT0)}  syncs sent ${recent.length} (answered ${recent.filter((x) => x.status).length})  on long-poll ${fleet!.onLongPoll()}  hub queue ${queued}`;
    });
    const probes = [
      probe(() => fetch(`${url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
      probe(() => fetch(`${url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
    ];
    const pageProbe = probe(() => admin.fetch("/instances", { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50);
    let backAt: number | null = null;
    let lastSyncAt: number | null = null;
    // All back, all synced, and both: the long-poll fleet's last sync comes with its periodic one (≤ 66 s).
    const ready = await until(() => {
      if (backAt === null && fleet!.holding >= n) backAt = performance.now();
      if (lastSyncAt === null && fleet!.synced(restartT0) >= n) lastSyncAt = performance.now();
      return fleet!.ready(restartT0) >= n;
    }, 120_000);
    const readyAt = performance.now();
    // With STORM_DEBUG=1: when the sockets closed and the failed push attempts came, after the stop began.
    if (process.env.STORM_DEBUG) {
      const by = new Map<string, number[]>();
      for (const f of fleet.failures) if (f.at >= restartT0 - 5000) by.set(f.what, [...(by.get(f.what) ?? []), Math.round(f.at - restartT0)]);
      console.log(`debug: up at ${Math.round(upAt - restartT0)} ms after the stop began`);
      for (const [k, v] of by) console.log(`debug: ${k}: ${v.length}, ms after stop began: min ${Math.min(...v)} p50 ${v.sort((x, y) => x - y)[v.length >> 1]} max ${Math.max(...v)}`);
    }
    const onLongPollAtEnd = fleet.onLongPoll();
    await Bun.sleep(1000); // and a moment after, while the last ones settle
    const [h1, h2] = await Promise.all(probes.map((p) => p.stop()));
    const page = await pageProbe.stop();
    const cpu1 = processCpuSeconds(hub.proc.pid);
    const waited1 = runQueueWaitS(hub.proc.pid);
    const busiestPct = busiest();
    const clientLagMaxMs = lag();
    clearInterval(queuedTimer);
    endTimeline();
    const net1 = tcpExt();
    const endAt = performance.now();
    // Afterwards the new hub's CPU with the fleet held and the same probes running, subtracted
    // from the storm's (the signed-in page every 50 ms alone costs ~10–30 % of a core).
    const steady = await steadyRate(hub, admin, 5000);
    const wallS = (endAt - upAt) / 1000;
    const delta = (k: string) => (net0 && net1 ? net1[k] - net0[k] : null);
    return {
      channel,
      syncOnDrop: process.env.STORM_SYNC_ON_DROP !== "0",
      agents: n,
      restartMs: upAt - restartT0,
      allBackAfterUpMs: backAt !== null ? backAt - upAt : null,
      allSyncedAfterUpMs: ready ? readyAt - upAt : null,
      lastSyncAfterUpMs: lastSyncAt !== null ? lastSyncAt - upAt : null,
      sync: syncFigures(fleet, restartT0, upAt, endAt),
      onLongPollAtEnd,
      hubCpuS: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
      hubCpuAboveSteadyS: cpu0 !== null && cpu1 !== null && steady.cpuPct !== null ? cpu1 - cpu0 - (steady.cpuPct / 100) * wallS : null,
      steady: { hubCpuPct: steady.cpuPct, healthzP99: steady.healthz.p99, pageP99: steady.page.p99 },
      hubBusiestSecondPct: busiestPct,
      hubWaitedForCpuS: waited0 !== null && waited1 !== null ? waited1 - waited0 : null,
      counts: { ...fleet.counts },
      pushFailures: pushFailures(fleet, restartT0, upAt, endAt),
      healthz: mergeProbes(h1, h2),
      page,
      listenOverflows: delta("ListenOverflows"),
      synRetransmits: delta("TCPSynRetrans"),
      hubCpuPct: cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / wallS) * 100 : null,
      clientLagMaxMs,
    };
  } finally {
    fleet?.stop();
    await hub.stop();
  }
}

const secs = (ms: number | null, what: string) => (ms === null ? `NOT ${what} within 120 s` : `${(ms / 1000).toFixed(1)} s`);

const statusCounts = (e: Record<string, number>) => Object.entries(e).map(([k, v]) => `${v}× ${k}`).join(", ") || "none";

const describe = (f: StormFigures) =>
  `${f.agents} agents on the ${f.channel}${f.syncOnDrop ? "" : " (control: no sync after a dropped WebSocket)"}, hub restarted (stop + start ${(f.restartMs / 1000).toFixed(1)} s): ` +
  `all back ${secs(f.allBackAfterUpMs, "all back")}, all back AND synced ${secs(f.allSyncedAfterUpMs, "all synced")} after the new hub answered (last sync at ${secs(f.lastSyncAfterUpMs, "all synced")}; ${f.onLongPollAtEnd} on the long-poll then)` +
  `; syncs meanwhile ${f.sync.sent} sent, ${f.sync.answered} answered p50 ${f1(f.sync.p50)} / p99 ${f1(f.sync.p99)} / max ${f1(f.sync.max)} ms, ${f.sync.unanswered} unanswered, errors ${statusCounts(f.sync.errors)}; ${f.sync.whileDown} refused while the hub was down` +
  `; /healthz p50 ${f1(f.healthz.p50)} / p99 ${f1(f.healthz.p99)} / max ${f1(f.healthz.max)} ms (${f.healthz.count} probes, ${f.healthz.over1s} over 1 s, ${f.healthz.failed} failed)` +
  `; /instances page p50 ${f1(f.page.p50)} / p99 ${f1(f.page.p99)} / max ${f1(f.page.max)} ms (${f.page.over1s} over 1 s, ${f.page.failed} failed)` +
  `; listen overflows ${f.listenOverflows ?? "?"}, SYN retransmits ${f.synRetransmits ?? "?"}, hub CPU ${f1(f.hubCpuS, 2)} s, ${f1(f.hubCpuAboveSteadyS, 2)} s above its steady ${f1(f.steady.hubCpuPct)} % (fleet held, same probes; then /healthz p99 ${f1(f.steady.healthzP99)}, page p99 ${f1(f.steady.pageP99)} ms) (${f1(f.hubCpuPct)} % of a core on average, busiest second ${f1(f.hubBusiestSecondPct)} %; its event loop waited ${f1(f.hubWaitedForCpuS, 2)} s for a CPU), bench event-loop lag max ${f1(f.clientLagMaxMs)} ms` +
  `; WebSocket upgrades refused ${f.counts.wsRefused} (busy ${f.counts.wsBusy}, unanswered while the hub was down ${f.counts.wsUnanswered}), wait errors ${f.counts.waitErrors} (busy ${f.counts.waitBusy}), sync replays ${f.counts.syncReplay}, unexpected 200s ${f.counts.syncUnexpected}` +
  `; failed push attempts (while down / after up): ${Object.entries(f.pushFailures).map(([k, v]) => `${k} ${v.whileDown}/${v.afterUp}`).join(", ") || "none"}`;

/** One line per storm for the table under the notes. */
const row = (f: StormFigures) =>
  [
    `${f.agents}`.padStart(6),
    f.channel.padEnd(9),
    secs(f.allBackAfterUpMs, "back").padStart(7),
    secs(f.allSyncedAfterUpMs, "synced").padStart(7),
    `${f1(f.sync.p50)}/${f1(f.sync.p99)}`.padStart(13),
    `${f1(f.healthz.p99)}/${f1(f.healthz.max)}`.padStart(15),
    f1(f.page.p99).padStart(8),
    `${f1(f.hubCpuS, 1)}/${f1(f.hubCpuAboveSteadyS, 1)} s, ${f1(f.hubBusiestSecondPct, 0)} %`.padStart(17),
  ].join("  ");
const TABLE_HEAD = "agents  channel     back  synced  sync p50/p99  /healthz p99/max  page p99  hub CPU all/storm, peak";

const reconnectStorm: Scenario = {
  name: "reconnect-storm",
  async run(ctx) {
    const channels = ctx.options.channels ?? (["long-poll", "websocket"] as const);
    const figures: StormFigures[] = [];
    for (const n of ctx.options.storm) for (const channel of channels) figures.push(await stormOnce(ctx, n, channel));
    const failedToReturn = figures.filter((f) => f.allBackAfterUpMs === null || f.allSyncedAfterUpMs === null);
    if (failedToReturn.length) throw new Error(describe(failedToReturn[0]));
    const healthz = figures.map((f) => f.healthz).reduce(mergeProbes);
    return {
      rps: 0,
      tool: "fetch",
      requests: 0,
      p50Ms: healthz.p50,
      p99Ms: healthz.p99,
      maxMs: healthz.max,
      errors: healthz.failed + figures.reduce((s, f) => s + f.page.failed, 0),
      notes: [...figures.map(describe), "(p50/p99 columns: /healthz during the storms; times after the new hub answered, ms unless said)", TABLE_HEAD, ...figures.map(row)],
      extra: { storm: figures },
    };
  },
};

export const STORM_SCENARIOS: Scenario[] = [reconnectStorm];
