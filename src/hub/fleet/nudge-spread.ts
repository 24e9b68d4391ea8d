// Spreads the nudges of a change that reaches many instances (a global or group setting, a CA
// account, a shared credential) over a window that grows with their number, so the fleet does
// not sync — and the hub does not assemble every config — in the same second. A change for one
// instance is not spread. Agents that sync on their own schedule meanwhile get the config then;
// the window is at most a minute, about one sync interval, so nobody waits much longer than the
// periodic sync would have taken anyway.

/** Each instance adds this much to the window: 200 instances over 2 s, 6,000 and more over the cap. */
export const SPREAD_MS_PER_INSTANCE = 10;
/** The longest window: the default sync interval (agents sync by then anyway). */
export const SPREAD_MAX_MS = 60_000;
const TICK_MS = 100;

interface Batch {
  ids: string[];
  start: number;
  windowMs: number;
  /** Next index to nudge. */
  next: number;
}

export class NudgeSpreader {
  private batches: Batch[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private notify: (id: string) => void,
    private perInstanceMs = SPREAD_MS_PER_INSTANCE,
    private maxMs = SPREAD_MAX_MS,
  ) {}

  /** The window a change reaching `n` instances is spread over. */
  windowFor(n: number): number {
    return n <= 1 ? 0 : Math.min(this.maxMs, n * this.perInstanceMs);
  }

  /** Nudges these instances evenly over the window (the first at once); one instance: at once. */
  spread(ids: string[], now = performance.now()) {
    const windowMs = this.windowFor(ids.length);
    if (windowMs === 0) {
      for (const id of ids) this.notify(id);
      return;
    }
    this.batches.push({ ids, start: now, windowMs, next: 0 });
    this.tick(now);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(performance.now()), TICK_MS);
      this.timer.unref?.();
    }
  }

  /** Instances still waiting for their nudge. */
  get pending(): number {
    return this.batches.reduce((n, b) => n + b.ids.length - b.next, 0);
  }

  private tick(now: number) {
    for (const b of this.batches) {
      // Instance i is due at start + i/n of the window.
      const due = Math.min(b.ids.length, Math.floor(((now - b.start) / b.windowMs) * b.ids.length) + 1);
      while (b.next < due) this.notify(b.ids[b.next++]);
    }
    this.batches = this.batches.filter((b) => b.next < b.ids.length);
    if (!this.batches.length && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.batches = [];
  }
}
