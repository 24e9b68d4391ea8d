// Push nudges: agents hold a long-poll (/wait) open; queueing a command (or revoking, or
// resetting an identity) wakes the waiters of that instance at once. Long-poll rather than
// WebSocket/SSE because it passes every proxy and needs nothing but HTTP on the agent side.
// In memory, per hub process: with several hub processes a nudge only reaches agents waiting
// on the process that queued the command; the others get it at their next periodic sync.

/** A misbehaving agent cannot hold more than this many waits open. */
const MAX_WAITERS_PER_INSTANCE = 4;

export class Notifier {
  private waiters = new Map<string, Set<(nudged: boolean) => void>>();

  get size(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  notify(instanceId: string) {
    const set = this.waiters.get(instanceId);
    if (!set) return;
    this.waiters.delete(instanceId);
    for (const wake of set) wake(true);
  }

  /**
   * Resolves true as soon as `ready()` holds (checked first, then after every nudge), false
   * after `timeoutMs` or when `signal` aborts (the agent disconnected).
   */
  wait(instanceId: string, ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(instanceId);
      if (!set) this.waiters.set(instanceId, (set = new Set()));
      if (set.size >= MAX_WAITERS_PER_INSTANCE) {
        const oldest = set.values().next().value!;
        set.delete(oldest);
        oldest(false);
      }
      const done = (nudged: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const s = this.waiters.get(instanceId);
        if (s) {
          s.delete(done);
          if (s.size === 0) this.waiters.delete(instanceId);
        }
        resolve(nudged && ready());
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(done);
    });
  }

  /** Wakes everyone (shutdown), so long-polls end promptly. */
  releaseAll() {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of all) for (const wake of set) wake(false);
  }
}
