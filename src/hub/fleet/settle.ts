// Gives memory back after a burst of agents opening their push WebSockets (a hub restart, a
// network coming back). Each upgrade leaves garbage behind (request objects, headers, the
// signature check, database rows); once the burst is over the garbage is dead but sits in pages
// the allocators keep: JavaScriptCore collects it only when it next needs room, and glibc's
// malloc keeps freed pages inside its arena. Measured with 10,000 WebSockets opened in one
// burst: ~4.3 KiB of hub RSS per held agent without, ~3.8 with.
// Only sockets count: a held socket makes no more garbage, so what is given back stays given
// back, whereas waits re-poll (garbage at a steady rate). It runs at most once a minute, only
// after at least `minBurst` sockets were opened and the rate has dropped to a tenth.
//
// The pause is the collection's, and CPU contention stretches it: JavaScriptCore marks with
// helper threads, and every one of them waits for its share of the cores. Measured at 10,000
// sockets on 2 cores (the parts separately): quiet, collection 30-90 ms and malloc_trim 1-10 ms;
// with 2 busy loops per core ~110 ms in all; with 8 per core the collection alone 464 ms (a run
// beside other test suites: 2.2 s), the trim still ~1 ms. An asynchronous request
// (`Bun.gc(false)`, marking on the collector thread) paused ~30 ms but gave back nearly nothing
// within seconds; bun:jsc fullGC (no synchronous sweep) paused 559 ms. So the collection stays
// synchronous and runs only when the machine has the CPU for it: a due settle is postponed
// while the kernel reports CPU pressure (PSI "some" over 50 %: tasks waiting for a core) or the
// event loop lags, and dropped for this burst if that lasts `maxPostponeMs`. The event-loop lag
// alone does not see contention (an idle hub's timers still fire on time: 0.1 ms late with 8
// busy loops per core); PSI does (~100 %). The trim is skipped when the collection took long.
// The pause of each part goes to certhub_memory_settle_part_seconds_total{part}, and dropped
// settles or trims to certhub_memory_settles_skipped_total{reason}.
import { dlopen, FFIType } from "bun:ffi";
import { readFileSync } from "node:fs";
import type { Metrics } from "../metrics";

export interface SettleParts {
  /** Event-loop pause of the full collection. */
  collectMs: number;
  /** Pause of malloc_trim (0 when skipped). */
  trimMs: number;
  /** False when the trim was skipped: the collection took long or the machine became busy meanwhile. */
  trimmed: boolean;
}

/** What the settler looks at before a pause: null means go ahead, else why not now. */
export type ContentionProbe = () => string | null;

export interface SettleOptions {
  /** Push WebSockets opened so far (Notifier.socketsOpened). */
  opened: () => number;
  /** Sockets opened since the last settle before one is worth it. */
  minBurst?: number;
  intervalMs?: number;
  minGapMs?: number;
  /** How long a due settle waits for a quiet machine before it gives up on this burst. */
  maxPostponeMs?: number;
  /** Timer lateness of the settler's own tick (ms) that counts as a lagging event loop. */
  maxLagMs?: number;
  /** Share of time (0-1) some task waited for a CPU (PSI "some avg10") that counts as contended. */
  maxCpuPressure?: number;
  /** Reads the CPU pressure (0-1), null when unknown. Default: /proc/pressure/cpu. */
  cpuPressure?: () => number | null;
  /** Monotonic clock in ms (injectable for tests). */
  now?: () => number;
  /** The settle itself (injectable for tests). */
  settle?: (isContended: ContentionProbe) => Promise<SettleParts>;
  /** Registers the per-part pause and skip counters when given. */
  metrics?: Metrics;
  /** Called after each settle with its pause (all parts) and the parts. */
  onSettle?: (ms: number, parts: SettleParts) => void;
  /** Called when a due settle is postponed (each tick) or given up, with the reason. */
  onPostpone?: (reason: string, givenUp: boolean) => void;
}

export interface MemorySettler {
  stop(): void;
}

export function startMemorySettler(opts: SettleOptions): MemorySettler {
  const minBurst = opts.minBurst ?? 1000;
  const minGapMs = opts.minGapMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 5000;
  const maxPostponeMs = opts.maxPostponeMs ?? 10 * 60_000;
  const maxLagMs = opts.maxLagMs ?? 50;
  const maxCpuPressure = opts.maxCpuPressure ?? 0.5;
  const cpuPressure = opts.cpuPressure ?? readCpuPressure;
  const now = opts.now ?? (() => performance.now());
  const settle = opts.settle ?? settleMemory;
  const partSeconds = opts.metrics?.counter("certhub_memory_settle_part_seconds_total", "Event-loop pause spent giving memory back, per part (collect, trim)");
  const skipped = opts.metrics?.counter("certhub_memory_settles_skipped_total", "Memory settles dropped (or trims skipped) because the machine stayed busy");

  let atLastSettle = opts.opened();
  let atLastTick = atLastSettle;
  let lastSettleAt = -Infinity;
  let lastTickAt = now();
  let lagMs = 0;
  let dueSince: number | null = null;
  let running = false;

  // Contended when the last tick came late (the event loop is already stalling: any pause adds
  // to it) or the kernel says tasks wait for a CPU (a pause would be stretched by that share).
  const isContended: ContentionProbe = () => {
    if (lagMs > maxLagMs) return `event loop lagging ${Math.round(lagMs)} ms`;
    const p = cpuPressure();
    if (p !== null && p > maxCpuPressure) return `CPU pressure ${Math.round(p * 100)} %`;
    return null;
  };

  const tick = () => {
    const t = now();
    lagMs = Math.max(0, t - lastTickAt - intervalMs);
    lastTickAt = t;
    const opened = opts.opened();
    const sinceSettle = opened - atLastSettle;
    const thisTick = opened - atLastTick;
    atLastTick = opened;
    if (running) return;
    if (dueSince === null) {
      if (sinceSettle < minBurst || thisTick * 10 > sinceSettle || t - lastSettleAt < minGapMs) return;
      dueSince = t;
    } else if (thisTick * 10 > opened - atLastSettle) {
      return; // a new burst while postponed: wait for it to die down too
    }
    const busy = isContended();
    if (busy) {
      const givenUp = t - dueSince >= maxPostponeMs;
      opts.onPostpone?.(busy, givenUp);
      if (givenUp) {
        // Not this burst: the memory stays with the allocators (harmless) until the next one.
        skipped?.inc({ reason: "busy" });
        atLastSettle = opened;
        lastSettleAt = t;
        dueSince = null;
      }
      return;
    }
    atLastSettle = opened;
    lastSettleAt = t;
    dueSince = null;
    running = true;
    void settle(isContended)
      .then((parts) => {
        partSeconds?.inc({ part: "collect" }, parts.collectMs / 1000);
        partSeconds?.inc({ part: "trim" }, parts.trimMs / 1000);
        if (!parts.trimmed) skipped?.inc({ reason: "trim-busy" });
        opts.onSettle?.(parts.collectMs + parts.trimMs, parts);
      })
      .catch(() => {})
      .finally(() => {
        running = false;
        lastTickAt = now(); // the settle's own wait is not lag
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}

/**
 * A full garbage collection, then (after one turn of the event loop, when the finalizers of
 * native objects such as libSQL statements have run) freed malloc pages back to the system,
 * unless the collection took long or `isContended` says the machine got busy meanwhile: the trim
 * would only add to a pause that is already stretched. Resolves with the pause of each part, ms.
 */
export async function settleMemory(isContended: ContentionProbe = () => null, opts: { maxCollectMs?: number } = {}): Promise<SettleParts> {
  let started = performance.now();
  // Bun.gc(true): mark and sweep now. The alternatives were measured (module comment): an
  // asynchronous request gives little back, bun:jsc fullGC (no synchronous sweep) pauses as long.
  Bun.gc(true);
  const collectMs = performance.now() - started;
  await new Promise((resolve) => setImmediate(resolve));
  if (collectMs > (opts.maxCollectMs ?? 150) || isContended()) return { collectMs, trimMs: 0, trimmed: false };
  started = performance.now();
  trimMalloc();
  return { collectMs, trimMs: performance.now() - started, trimmed: true };
}

/** PSI "some avg10" of /proc/pressure/cpu as a share (0-1): the last 10 s in which some task waited for a CPU. */
export function readCpuPressure(): number | null {
  try {
    const m = readFileSync("/proc/pressure/cpu", "utf8").match(/^some avg10=([0-9.]+)/m);
    return m ? Number(m[1]) / 100 : null;
  } catch {
    return null; // not Linux, or a kernel without PSI: the event-loop lag alone decides
  }
}

let mallocTrim: ((pad: number) => number) | null | undefined;

/** glibc's malloc_trim(0) (Linux); elsewhere nothing (other allocators return pages themselves). */
function trimMalloc() {
  if (mallocTrim === undefined) {
    mallocTrim = null;
    if (process.platform === "linux") {
      try {
        const libc = dlopen("libc.so.6", { malloc_trim: { args: [FFIType.u64], returns: FFIType.i32 } });
        mallocTrim = (pad) => libc.symbols.malloc_trim(pad);
      } catch {
        // musl or no glibc: nothing to trim this way
      }
    }
  }
  mallocTrim?.(0);
}
