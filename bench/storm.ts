// The reconnect-storm scenario for `npm run bench` (issue 13): --storm N agents (default 2000)
// hold their push channel, once as the /wait long-poll and once as the WebSocket (/push, the
// default channel); the hub is restarted on the same port and data dir, and every agent
// reconnects after a fully jittered pause (0–5 s, as src/agent/sync/push.ts does after a
// long-held channel drops). Measured from the moment the new hub answers: time until all hold
// again, and meanwhile /healthz and a signed-in admin page, each on a new connection as a
// monitor or a browser would open it (two /healthz probes and one page probe in parallel,
// every 50 ms). Beside them, what explains a slow answer: the kernel's listen-queue overflows
// and SYN retransmits (system-wide counters; a dropped SYN costs 1 s, two 3 s), the hub's CPU
// during the storm, and this process's own event-loop lag (the simulated fleet shares the
// machine with the hub). Runs its own hubs (bench/scale.ts helpers).
import { readFileSync } from "node:fs";
import { signIn } from "../test/helpers/session";
import { holdSockets, holdWaits, processCpuSeconds, type HeldFleet } from "./held";
import { f1, freshHub, seed, until, WAIT_SECONDS } from "./scale";
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

export interface StormFigures {
  channel: Channel;
  agents: number;
  restartMs: number;
  allBackAfterUpMs: number | null;
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
function timeline(port: number, pid: number, holding: () => number) {
  if (!process.env.STORM_TIMELINE) return () => {};
  const rows: string[] = [];
  const t0 = performance.now();
  let net = tcpExt();
  let cpu = processCpuSeconds(pid);
  const timer = setInterval(() => {
    const n = tcpExt();
    const c = processCpuSeconds(pid);
    const q = acceptQueue(port);
    rows.push(
      `${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s  held ${String(holding()).padStart(6)}  accept queue ${q ? `${q[0]}/${q[1]}` : "?"}  overflows +${n && net ? n.ListenOverflows - net.ListenOverflows : "?"}  hub CPU ${c !== null && cpu !== null ? ((c - cpu) * 1000).toFixed(0) : "?"} ms`,
    );
    net = n;
    cpu = c;
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

async function stormOnce(ctx: BenchContext, n: number, channel: Channel): Promise<StormFigures> {
  let { hub, dataDir } = await freshHub(ctx);
  let fleet: HeldFleet | undefined;
  try {
    const agents = await seed(ctx, dataDir, n);
    // The agent's rule after a long-held channel drops: reconnect after 0–5 s (full jitter).
    const reconnectDelayMs = () => Math.random() * 5000;
    fleet =
      channel === "websocket"
        ? holdSockets({ port: hub.port, agents, reconnectDelayMs })
        : holdWaits({ port: hub.port, agents, timeoutSeconds: WAIT_SECONDS, reconnectDelayMs });
    if (!(await until(() => fleet!.holding >= n, 120_000))) throw new Error(`${channel}: only ${fleet.holding} of ${n} agents hold their channel before the restart`);
    const admin = await signIn(hub.url); // the session is in the database: it outlives the restart
    await Bun.sleep(1000);
    const port = hub.port;
    const restartT0 = performance.now();
    await hub.stop();
    ({ hub } = await freshHub(ctx, port, dataDir));
    const upAt = performance.now();
    const net0 = tcpExt();
    const cpu0 = processCpuSeconds(hub.proc.pid);
    const lag = lagMonitor();
    const endTimeline = timeline(port, hub.proc.pid, () => fleet!.holding);
    const url = hub.url;
    const probes = [
      probe(() => fetch(`${url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
      probe(() => fetch(`${url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50),
    ];
    const pageProbe = probe(() => admin.fetch("/instances", { keepalive: false, signal: AbortSignal.timeout(10_000) }), 50);
    const back = await until(() => fleet!.holding >= n, 120_000);
    const backAt = performance.now();
    await Bun.sleep(1000); // and a moment after, while the last ones settle
    const [h1, h2] = await Promise.all(probes.map((p) => p.stop()));
    const page = await pageProbe.stop();
    const cpu1 = processCpuSeconds(hub.proc.pid);
    const clientLagMaxMs = lag();
    endTimeline();
    const net1 = tcpExt();
    const wallS = (performance.now() - upAt) / 1000;
    const delta = (k: string) => (net0 && net1 ? net1[k] - net0[k] : null);
    return {
      channel,
      agents: n,
      restartMs: upAt - restartT0,
      allBackAfterUpMs: back ? backAt - upAt : null,
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

const describe = (f: StormFigures) =>
  `${f.agents} agents on the ${f.channel}, hub restarted (stop + start ${(f.restartMs / 1000).toFixed(1)} s): ` +
  (f.allBackAfterUpMs === null ? "NOT all back within 120 s" : `all back ${(f.allBackAfterUpMs / 1000).toFixed(1)} s after the new hub answered`) +
  `; /healthz p50 ${f1(f.healthz.p50)} / p99 ${f1(f.healthz.p99)} / max ${f1(f.healthz.max)} ms (${f.healthz.count} probes, ${f.healthz.over1s} over 1 s, ${f.healthz.failed} failed)` +
  `; /instances page p50 ${f1(f.page.p50)} / max ${f1(f.page.max)} ms (${f.page.over1s} over 1 s, ${f.page.failed} failed)` +
  `; listen overflows ${f.listenOverflows ?? "?"}, SYN retransmits ${f.synRetransmits ?? "?"}, hub CPU ${f1(f.hubCpuPct)} % of a core, bench event-loop lag max ${f1(f.clientLagMaxMs)} ms`;

const reconnectStorm: Scenario = {
  name: "reconnect-storm",
  async run(ctx) {
    const n = ctx.options.storm;
    const figures: StormFigures[] = [];
    for (const channel of ["long-poll", "websocket"] as const) figures.push(await stormOnce(ctx, n, channel));
    const failedToReturn = figures.filter((f) => f.allBackAfterUpMs === null);
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
      notes: [...figures.map(describe), "(p50/p99 columns: /healthz during both storms)"],
      extra: { storm: figures },
    };
  },
};

export const STORM_SCENARIOS: Scenario[] = [reconnectStorm];
