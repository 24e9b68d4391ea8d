// Push nudges: agents hold a WebSocket (/push) or, where a proxy breaks upgrades, a long-poll
// (/wait) open; queueing a command (or revoking, or resetting an identity) wakes the sockets
// and waiters of that instance at once.
// In memory, per hub process; changes made by another hub process on the same database reach
// this one through the change feed (change-feed.ts), which calls notify() here.
// Kept small because it exists once per connected agent: an identity's one connection is
// stored as itself (no Set, no wrapper object); only an identity holding two gets an array.

/**
 * One instance identity holds at most this many push connections, waits and WebSockets
 * together: the agent's own plus one overlapping re-poll (or a socket replacing a wait). A
 * stolen agent key cannot pin thousands of connections: a new one replaces the identity's
 * oldest wait, and is refused when the identity's connections are all WebSockets.
 */
export const MAX_WAITERS_PER_INSTANCE = 2;

/** A held WebSocket push channel (agent-api/push.ts); the SocketHooks nudge and close it. */
export type PushSubscriber = object;

export interface SocketHooks {
  /** Something may be waiting for the socket's instance: check and tell the agent. */
  nudge(sub: PushSubscriber): void;
  /** Close the socket (descriptor pressure, shutdown, replaced). */
  release(sub: PushSubscriber): void;
}

/** A held wait: called once with whether it was nudged. */
type Waiter = (nudged: boolean) => void;
type Held = Waiter | PushSubscriber;

const isWait = (h: Held): h is Waiter => typeof h === "function";

export class Notifier {
  /** Per identity, oldest first: one connection as itself, two as an array. */
  private held = new Map<string, Held | Held[]>();
  private waitCount = 0;
  private socketCount = 0;
  private socketsOpenedCount = 0;
  private hooks: SocketHooks = { nudge() {}, release() {} };
  /** Set by the server while descriptors run short: new waits are refused (503). */
  shedding = false;

  /** Held waits. */
  get size(): number {
    return this.waitCount;
  }

  /** Open WebSocket push channels. */
  get sockets(): number {
    return this.socketCount;
  }

  /** WebSockets held since start: a burst of them is followed by a settle (fleet/settle.ts). */
  get socketsOpened(): number {
    return this.socketsOpenedCount;
  }

  /** How sockets are nudged and closed (set once by the WebSocket handlers, agent-api/push.ts). */
  setSocketHooks(hooks: SocketHooks) {
    this.hooks = hooks;
  }

  private list(instanceId: string): Held[] {
    const h = this.held.get(instanceId);
    return h === undefined ? [] : Array.isArray(h) ? h : [h];
  }

  private store(instanceId: string, list: Held[]) {
    if (list.length === 0) this.held.delete(instanceId);
    else this.held.set(instanceId, list.length === 1 ? list[0]! : list);
  }

  private add(instanceId: string, h: Held) {
    this.store(instanceId, [...this.list(instanceId), h]);
  }

  private remove(instanceId: string, h: Held): boolean {
    const list = this.list(instanceId);
    const i = list.indexOf(h);
    if (i < 0) return false;
    list.splice(i, 1);
    this.store(instanceId, list);
    return true;
  }

  /**
   * Whether one more push connection of the identity can be held: below the cap, or it has a
   * wait that the new connection replaces.
   */
  admits(instanceId: string): boolean {
    const list = this.list(instanceId);
    return list.length < MAX_WAITERS_PER_INSTANCE || list.some(isWait);
  }

  /** Makes room for one more connection: ends the oldest wait when the identity is at the cap. */
  private makeRoom(instanceId: string): boolean {
    const list = this.list(instanceId);
    if (list.length < MAX_WAITERS_PER_INSTANCE) return true;
    const oldestWait = list.find(isWait);
    if (!oldestWait) return false;
    oldestWait(false);
    return true;
  }

  /**
   * Registers a WebSocket push channel, replacing the identity's oldest wait when it is at the
   * cap; false (refused) when its connections are all sockets.
   */
  subscribe(instanceId: string, sub: PushSubscriber): boolean {
    if (!this.makeRoom(instanceId)) return false;
    this.add(instanceId, sub);
    this.socketCount++;
    this.socketsOpenedCount++;
    return true;
  }

  unsubscribe(instanceId: string, sub: PushSubscriber) {
    if (this.remove(instanceId, sub)) this.socketCount--;
  }

  /** How many push sockets the instance holds here. */
  socketsOf(instanceId: string): number {
    return this.list(instanceId).filter((h) => !isWait(h)).length;
  }

  /** Whether the instance has a wait open here. */
  has(instanceId: string): boolean {
    return this.list(instanceId).some(isWait);
  }

  notify(instanceId: string) {
    for (const h of [...this.list(instanceId)]) {
      if (isWait(h)) h(true);
      else this.hooks.nudge(h);
    }
  }

  /**
   * Resolves true as soon as `ready()` holds (checked first, then after every nudge), false
   * after `timeoutMs`, when `signal` aborts (the agent disconnected), when a newer connection
   * of the identity replaces it, or at once when the identity's connections are all sockets
   * (the handler refuses that case before waiting: see admits()).
   */
  wait(instanceId: string, ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (!this.makeRoom(instanceId)) return Promise.resolve(false);
    return new Promise((resolve) => {
      let settled = false;
      const done: Waiter = (nudged) => {
        if (settled) return;
        settled = true;
        this.waitCount--;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.remove(instanceId, done);
        resolve(nudged && ready());
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.add(instanceId, done);
      this.waitCount++;
    });
  }

  /** Ends up to `n` of the longest-held sockets, then waits (the agents come back later): frees descriptors. */
  releaseOldest(n: number): number {
    let released = 0;
    const all = [...this.held.values()].flat();
    for (const h of all) {
      if (released >= n) break;
      if (!isWait(h)) {
        this.hooks.release(h);
        released++;
      }
    }
    for (const h of all) {
      if (released >= n) break;
      if (isWait(h)) {
        h(false);
        released++;
      }
    }
    return released;
  }

  /** Wakes everyone (shutdown), so long-polls end promptly. */
  releaseAll() {
    for (const h of [...this.held.values()].flat()) {
      if (isWait(h)) h(false);
      else this.hooks.release(h);
    }
  }
}
