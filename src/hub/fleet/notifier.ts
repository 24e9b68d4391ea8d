// Push nudges: agents hold a WebSocket (/push) or, where a proxy breaks upgrades, a long-poll
// (/wait) open; queueing a command (or revoking, or resetting an identity) wakes the sockets
// and waiters of that instance at once.
// In memory, per hub process; changes made by another hub process on the same database reach
// this one through the change feed (change-feed.ts), which calls notify() here.

/**
 * One instance identity holds at most this many waits: the agent's own plus one overlapping
 * re-poll. A stolen agent key cannot pin thousands of connections: each new wait releases
 * the oldest.
 */
export const MAX_WAITERS_PER_INSTANCE = 2;

/** A held WebSocket push channel (agent-api/push.ts): told of every nudge, closed on release. */
export interface PushSubscriber {
  nudge(): void;
  release(): void;
}

export class Notifier {
  private waiters = new Map<string, Set<(nudged: boolean) => void>>();
  private subscribers = new Map<string, Set<PushSubscriber>>();
  private count = 0;
  private socketCount = 0;
  /** Set by the server while descriptors run short: new waits are refused (503). */
  shedding = false;

  get size(): number {
    return this.count;
  }

  /** Open WebSocket push channels. */
  get sockets(): number {
    return this.socketCount;
  }

  /**
   * Registers a WebSocket push channel. Unlike a wait it lasts until released, so one identity
   * may hold at most MAX_WAITERS_PER_INSTANCE of them: false (refused) beyond that.
   */
  subscribe(instanceId: string, sub: PushSubscriber): boolean {
    let set = this.subscribers.get(instanceId);
    if (set && set.size >= MAX_WAITERS_PER_INSTANCE) return false;
    if (!set) this.subscribers.set(instanceId, (set = new Set()));
    set.add(sub);
    this.socketCount++;
    return true;
  }

  unsubscribe(instanceId: string, sub: PushSubscriber) {
    const set = this.subscribers.get(instanceId);
    if (!set?.delete(sub)) return;
    this.socketCount--;
    if (set.size === 0) this.subscribers.delete(instanceId);
  }

  /** How many push sockets the instance holds here. */
  socketsOf(instanceId: string): number {
    return this.subscribers.get(instanceId)?.size ?? 0;
  }

  /** Whether the instance has a wait open here. */
  has(instanceId: string): boolean {
    return this.waiters.has(instanceId);
  }

  notify(instanceId: string) {
    const subs = this.subscribers.get(instanceId);
    if (subs) for (const sub of [...subs]) sub.nudge();
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
      if (set.size >= MAX_WAITERS_PER_INSTANCE) set.values().next().value!(false);
      let settled = false;
      const done = (nudged: boolean) => {
        if (settled) return;
        settled = true;
        this.count--;
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
      this.count++;
    });
  }

  /** Ends up to `n` of the longest-held waits (the agents re-poll later): frees descriptors. */
  releaseOldest(n: number): number {
    let released = 0;
    for (const [, set] of this.subscribers) {
      if (released >= n) break;
      for (const sub of [...set]) {
        if (released >= n) break;
        sub.release();
        released++;
      }
    }
    for (const [, set] of this.waiters) {
      if (released >= n) break;
      for (const wake of [...set]) {
        if (released >= n) break;
        wake(false);
        released++;
      }
    }
    return released;
  }

  /** Wakes everyone (shutdown), so long-polls end promptly. */
  releaseAll() {
    for (const set of [...this.subscribers.values()]) for (const sub of [...set]) sub.release();
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of all) for (const wake of [...set]) wake(false);
  }
}
