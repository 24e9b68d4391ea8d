// Shared types of the benchmark harness (run.ts) and its scenario files (fleet.ts, scale.ts),
// apart so that scenarios do not import the harness that imports them.
import type { Hub } from "../test/helpers";

export interface LoadRequest {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  rps: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Slowest request (fetch loop only): stalls that a closed-loop generator hides from p99. */
  maxMs?: number;
  /** Non-2xx/3xx responses or socket errors seen during the run. */
  errors?: number;
  tool?: "wrk" | "fetch";
  /** Requests completed (for per-request CPU figures); rps × duration when unknown. */
  requests?: number;
  /** Hub process CPU time (user + system) per request, in µs; filled in by the harness. */
  hubCpuUs?: number;
  /** Hub and load-generator CPU use during the run, in % of one core. */
  hubCpuPct?: number;
  clientCpuPct?: number;
  /** The baseline this result is compared with, when it is not the wrk /healthz run. */
  baseline?: { name: string; rps: number; hubCpuUs?: number };
  /** Lines printed under the table. */
  notes?: string[];
  /** Structured figures for bench/results.json. */
  extra?: Record<string, unknown>;
}

export interface BenchContext {
  hub: Hub;
  dataDir: string;
  /** Runs `certhub <args>` against the hub's data dir. */
  cli: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Drives `req` against the hub for the configured duration and connections. */
  load: (req: LoadRequest) => Promise<LoadResult>;
  /** GET /healthz driven by the in-process fetch loop (measured once, on first use). */
  fetchBaseline: () => Promise<LoadResult>;
  /** Runs `fn` and attaches the hub's (and this process's) CPU use to its result. */
  measured: <T extends LoadResult>(fn: () => Promise<T>) => Promise<T>;
  /** CPU seconds (user + system) used by the hub process so far; null where /proc is missing. */
  hubCpuSeconds: () => number | null;
  /** Scenario state shared between scenarios (e.g. the simulated fleet), by key. */
  shared: Map<string, unknown>;
  options: Options;
}

export interface Scenario {
  name: string;
  run: (ctx: BenchContext) => Promise<LoadResult>;
}

export interface Options {
  durationS: number;
  connections: number;
  threads: number;
  only?: Set<string>;
  bin: string;
  useWrk: boolean;
  /** Simulated agents for the fleet scenarios. */
  agents: number;
  /** Directory for a CPU profile of the hub (runs it from source under bun --cpu-prof). */
  profileDir?: string;
  /** Fleet sizes for held-connections. */
  held: number[];
  /** Push channels held-connections measures (--channel long-poll,websocket; default both). */
  channels?: ("long-poll" | "websocket")[];
  /** Fleet sizes for the reconnect storm. */
  storm: number[];
}
