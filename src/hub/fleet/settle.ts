// Gives memory back after a burst of agents opening their push WebSockets (a hub restart, a
// network coming back). Each upgrade leaves garbage behind (request objects, headers, the
// signature check, database rows); once the burst is over the garbage is dead but sits in pages
// the allocators keep: JavaScriptCore collects it only when it next needs room, and glibc's
// malloc keeps freed pages inside its arena. Measured with 10,000 WebSockets opened in one
// burst: ~4.3 KiB of hub RSS per held agent without, ~3.8 with, for one pause of 30-90 ms
// (~100 ms at 15,000).
// Only sockets count: a held socket makes no more garbage, so what is given back stays given
// back, whereas waits re-poll (garbage at a steady rate) and a full collection with 10,000
// waits pending paused the hub for ~360 ms. It runs at most once a minute, only after at least
// `minBurst` sockets were opened and the rate has dropped to a tenth.
import { dlopen, FFIType } from "bun:ffi";

export interface SettleOptions {
  /** Push WebSockets opened so far (Notifier.socketsOpened). */
  opened: () => number;
  /** Sockets opened since the last settle before one is worth it. */
  minBurst?: number;
  intervalMs?: number;
  minGapMs?: number;
  /** Called after each settle with its pause. */
  onSettle?: (ms: number) => void;
}

export interface MemorySettler {
  stop(): void;
}

export function startMemorySettler(opts: SettleOptions): MemorySettler {
  const minBurst = opts.minBurst ?? 1000;
  const minGapMs = opts.minGapMs ?? 60_000;
  let atLastSettle = opts.opened();
  let atLastTick = atLastSettle;
  let lastSettleAt = 0;
  const timer = setInterval(() => {
    const now = opts.opened();
    const sinceSettle = now - atLastSettle;
    const thisTick = now - atLastTick;
    atLastTick = now;
    if (sinceSettle < minBurst || thisTick * 10 > sinceSettle || Date.now() - lastSettleAt < minGapMs) return;
    atLastSettle = now;
    lastSettleAt = Date.now();
    void settleMemory().then((ms) => opts.onSettle?.(ms));
  }, opts.intervalMs ?? 5000);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}

/**
 * A full garbage collection, then (after one turn of the event loop, when the finalizers of
 * native objects such as libSQL statements have run) freed malloc pages back to the system.
 * Resolves with the time the event loop was blocked, in ms.
 */
export async function settleMemory(): Promise<number> {
  let started = performance.now();
  Bun.gc(true);
  let paused = performance.now() - started;
  await new Promise((resolve) => setImmediate(resolve));
  started = performance.now();
  trimMalloc();
  paused += performance.now() - started;
  return paused;
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
