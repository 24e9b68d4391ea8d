// Push-channel scenarios for `npm run bench` (issue 13), with agents from bench/held.ts:
//   held-connections   N agents (--held 1000,10000,…) each hold their push channel, once as the
//                      signed /wait long-poll and once as the WebSocket (/push), side by side:
//                      hub RSS per held agent (steady, after the CPU window, and right after
//                      connecting; plus the cost of each additional agent between the smallest
//                      and largest fleet), hub CPU per agent-minute while held (re-polls
//                      included, the hub's idle CPU before the agents came subtracted), push
//                      latency (command queued → the agent's wait answers), /healthz latency
//                      while held, and how often the hub gave memory back (fleet/settle.ts).
// (reconnect-storm is in bench/storm.ts and uses the helpers exported here.)
// Each runs its own hub (same binary as the rest of the bench), so its memory and descriptors
// are the scenario's alone. The figures also go to bench/results.json (run.ts).
import { join } from "node:path";
import { runCli, startHub, tempDir, type Hub } from "../test/helpers";
import { signIn } from "../test/helpers/session";
import { holdSockets, holdWaits, processCpuSeconds, processFdCount, processRssBytes, seedWaitAgents, type HeldFleet, type WaitAgent } from "./held";
import type { BenchContext, LoadResult, Scenario } from "./types";
import { summarize } from "./stats";

/** Re-poll timeout the real agent uses (src/agent/sync/push.ts WAIT_SECONDS). */
export const WAIT_SECONDS = 50;

export async function freshHub(ctx: BenchContext, port?: number, dataDir = tempDir("certhub-bench-scale-")): Promise<{ hub: Hub; dataDir: string }> {
  const hub = await startHub({ bin: ctx.options.bin, dataDir, port, timeoutMs: 60_000 });
  return { hub, dataDir };
}

export async function seed(ctx: BenchContext, dataDir: string, n: number): Promise<WaitAgent[]> {
  const created = await runCli(["keys", "create", "--title", "bench-held", "--json"], { bin: ctx.options.bin, dataDir });
  if (created.code !== 0) throw new Error(`keys create failed: ${created.stderr}`);
  const { clientId } = JSON.parse(created.stdout) as { clientId: string };
  return seedWaitAgents(join(dataDir, "hub.db"), clientId, n);
}

export async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (cond()) return true;
    await Bun.sleep(100);
  }
  return cond();
}

export async function healthzLatencies(url: string, count: number, gapMs: number): Promise<{ p50: number; p99: number; max: number; failed: number }> {
  const lat: number[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    try {
      const res = await fetch(`${url}/healthz`, { keepalive: false, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status !== 200) failed++;
    } catch {
      failed++;
    }
    lat.push(performance.now() - t);
    await Bun.sleep(gapMs);
  }
  const s = summarize(lat, 1);
  return { p50: s.p50Ms ?? NaN, p99: s.p99Ms ?? NaN, max: s.maxMs ?? NaN, failed };
}

type Channel = "long-poll" | "websocket";

interface HeldFigures {
  channel: Channel;
  agents: number;
  held: number;
  /** Steady state: measured after the CPU window. */
  rssPerAgentKiB: number | null;
  /** Right after the fleet connected (includes the garbage of opening it). */
  rssPerAgentAtOpenKiB: number | null;
  cpuMsPerAgentMinute: number | null;
  hubCpuPct: number | null;
  /** The hub's CPU before any agent connected (subtracted from the per-agent figure). */
  idleHubCpuPct: number;
  pushP50Ms?: number;
  pushP99Ms?: number;
  healthzP99Ms: number;
  descriptors: number | null;
  /** Times the hub gave memory back after the burst (src/hub/fleet/settle.ts) and their pause. */
  settles?: number;
  settlePauseMs?: number;
}

/** A counter's value from the hub's /metrics (undefined when absent). */
async function hubCounter(url: string, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const v = text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, "m"))?.[1];
    return v === undefined ? undefined : Number(v);
  } catch {
    return undefined;
  }
}

async function heldOnce(ctx: BenchContext, n: number, channel: Channel): Promise<HeldFigures> {
  const { hub, dataDir } = await freshHub(ctx);
  let fleet: HeldFleet | undefined;
  try {
    const agents = await seed(ctx, dataDir, n);
    const pid = hub.proc.pid;
    await Bun.sleep(1000);
    const rss0 = processRssBytes(pid);
    // The hub's own idle CPU (timers, the descriptor guard) before any agent connects: subtracted,
    // so the per-agent figure is what holding costs.
    const idle0 = processCpuSeconds(pid);
    const idleT0 = performance.now();
    await Bun.sleep(10_000);
    const idle1 = processCpuSeconds(pid);
    const idleRate = idle0 !== null && idle1 !== null ? (idle1 - idle0) / ((performance.now() - idleT0) / 1000) : 0;
    const pushStarted = new Map<string, number>();
    const pushMs: number[] = [];
    const pushed = (a: WaitAgent) => {
      const t = pushStarted.get(a.id);
      if (t !== undefined) pushMs.push(performance.now() - t);
      pushStarted.delete(a.id);
    };
    fleet =
      channel === "websocket"
        ? holdSockets({ port: hub.port, agents, onNudge: pushed })
        : holdWaits({
            port: hub.port,
            agents,
            timeoutSeconds: WAIT_SECONDS,
            onAnswer: (a, r) => {
              if (r.status === 200 && r.body.includes('"nudge":true')) {
                a.cursor = (a.cursor ?? 0) + 1; // as if it had synced and stored the command
                pushed(a);
              }
            },
          });
    // Opened gradually by the kernel backlog; settle until (almost) everyone holds a wait.
    await until(() => fleet!.holding >= n * 0.99, 120_000);
    await Bun.sleep(2000);
    const rss1 = processRssBytes(pid);
    const held = fleet.holding;

    // CPU while held and otherwise idle: a window long enough to include re-polls (every
    // WAIT_SECONDS per agent, spread out because the waits were opened over time).
    const windowS = Math.max(20, ctx.options.durationS * 4);
    const cpu0 = processCpuSeconds(pid);
    const t0 = performance.now();
    await Bun.sleep(windowS * 1000);
    const wallS = (performance.now() - t0) / 1000;
    const cpu1 = processCpuSeconds(pid);
    const cpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    // Again after the window: the garbage of opening the fleet has been collected by then.
    const rss2 = processRssBytes(pid);
    const netCpuS = cpuS !== null ? Math.max(0, cpuS - idleRate * wallS) : null;
    const settles = await hubCounter(hub.url, "certhub_memory_settles_total");
    const settlePauseS = await hubCounter(hub.url, "certhub_memory_settle_seconds_total");

    // Push latency (commands queued for 50 agents through the admin API) and /healthz meanwhile.
    const health = healthzLatencies(hub.url, 20, 250);
    const admin = await signIn(hub.url);
    for (const a of agents.slice(0, Math.min(50, agents.length))) {
      pushStarted.set(a.id, performance.now());
      const res = await admin.json(`/api/v1/instances/${a.id}/commands`, "POST", { type: "ping" });
      if (res.status >= 300) throw new Error(`queueing a command failed: ${res.status} ${await res.text()}`);
      await Bun.sleep(50);
    }
    const h = await health;
    await Bun.sleep(500);
    const push = pushMs.length ? summarize(pushMs, 1) : undefined;
    return {
      channel,
      agents: n,
      held,
      rssPerAgentKiB: rss0 !== null && rss2 !== null && held ? (rss2 - rss0) / 1024 / held : null,
      rssPerAgentAtOpenKiB: rss0 !== null && rss1 !== null && held ? (rss1 - rss0) / 1024 / held : null,
      cpuMsPerAgentMinute: netCpuS !== null && held ? (netCpuS * 1000) / (held * (wallS / 60)) : null,
      idleHubCpuPct: idleRate * 100,
      hubCpuPct: cpuS !== null ? (cpuS / wallS) * 100 : null,
      pushP50Ms: push?.p50Ms,
      pushP99Ms: push?.p99Ms,
      healthzP99Ms: h.p99,
      descriptors: processFdCount(pid),
      settles,
      settlePauseMs: settlePauseS !== undefined ? settlePauseS * 1000 : undefined,
    };
  } finally {
    fleet?.stop();
    await hub.stop();
  }
}

export const f1 = (v: number | null | undefined, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? "?" : v.toFixed(d));

const heldConnections: Scenario = {
  name: "held-connections",
  async run(ctx) {
    const figures: HeldFigures[] = [];
    const channels = ctx.options.channels ?? (["long-poll", "websocket"] as const);
    for (const n of ctx.options.held) for (const channel of channels) figures.push(await heldOnce(ctx, n, channel));
    const last = figures[figures.length - 1];
    // What one more agent costs, without the fixed cost of the first ones (code compiled on
    // first use, the allocators' first pages): the steady RSS growth between the smallest and
    // the largest fleet, per agent.
    const marginal = (["long-poll", "websocket"] as const).flatMap((channel) => {
      const runs = figures.filter((f) => f.channel === channel && f.rssPerAgentKiB !== null && f.held > 0).sort((a, b) => a.held - b.held);
      const [small, large] = [runs[0], runs[runs.length - 1]];
      if (!small || !large || large.held <= small.held) return [];
      const kib = (large.rssPerAgentKiB! * large.held - small.rssPerAgentKiB! * small.held) / (large.held - small.held);
      return [`${channel}: ${f1(kib)} KiB hub RSS per additional held agent between ${small.held} and ${large.held} (steady state)`];
    });
    return {
      rps: 0,
      p50Ms: last.pushP50Ms,
      p99Ms: last.pushP99Ms,
      tool: "fetch",
      requests: 0,
      notes: [...figures.map(
        (f) =>
          `${f.agents} agents, ${f.channel}: ${f.held} held (${f.descriptors ?? "?"} hub descriptors), ${f1(f.rssPerAgentKiB)} KiB hub RSS per held agent (${f1(f.rssPerAgentAtOpenKiB)} right after connecting), ` +
          `${f1(f.cpuMsPerAgentMinute, 3)} ms hub CPU per agent-minute (hub at ${f1(f.hubCpuPct)} % of a core, ${f1(f.idleHubCpuPct)} % idle), ` +
          `push p50 ${f1(f.pushP50Ms)} ms / p99 ${f1(f.pushP99Ms)} ms, /healthz p99 ${f1(f.healthzP99Ms)} ms while held` +
          (f.settles !== undefined ? `; memory given back ${f.settles}× (${f1(f.settlePauseMs)} ms pause in all)` : ""),
      ), ...marginal],
      extra: { held: figures },
    };
  },
};

export const SCALE_SCENARIOS: Scenario[] = [heldConnections];

export type ScaleResult = LoadResult;
