// Attempt limiters (in memory, per hub process) for sign-in, password changes and joins.
//
// Invariant: an attempt is counted *before* the expensive or async check it guards, in the same
// synchronous step that decides whether it may run. Checking first and recording the failure
// after an await let a burst of simultaneous attempts all pass the check (200 parallel password
// guesses were all evaluated). So there is no "peek": callers either `reserve` a slot and give it
// back when the attempt turns out fine, or run check-and-record inside `KeyedLock.run`.
export interface RateLimitResult {
  ok: boolean;
  retryAfterSeconds: number;
}

/** A counted attempt; `refund()` gives the slot back (a successful sign-in, a valid key). */
export interface Reservation extends RateLimitResult {
  refund(): void;
}

interface Window {
  count: number;
  resetAt: number;
}

export class RateLimiter {
  private hits = new Map<string, Window>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  private window(key: string, now: number): Window {
    let entry = this.hits.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + this.windowMs };
      this.hits.set(key, entry);
      if (this.hits.size > 50_000) this.sweep(now);
    }
    return entry;
  }

  private retryAfter(entry: Window, now: number) {
    return Math.max(1, Math.ceil((entry.resetAt - now) / 1000));
  }

  /** Counts one attempt for `key` (refused ones too) and says whether it is within the limit. */
  take(key: string, now = Date.now()): RateLimitResult {
    const entry = this.window(key, now);
    entry.count++;
    return { ok: entry.count <= this.limit, retryAfterSeconds: this.retryAfter(entry, now) };
  }

  /**
   * Claims one of the `limit` slots of `key` if one is free; a refused reservation counts nothing.
   * `limit` may be tightened per call (e.g. while the whole address is over its own limit).
   */
  reserve(key: string, limit = this.limit, now = Date.now()): Reservation {
    const entry = this.window(key, now);
    const retryAfterSeconds = this.retryAfter(entry, now);
    if (entry.count >= limit) return { ok: false, retryAfterSeconds, refund: () => {} };
    entry.count++;
    let refunded = false;
    return {
      ok: true,
      retryAfterSeconds,
      refund: () => {
        // Only into the same window: a slot from an expired window is gone already.
        if (refunded || this.hits.get(key) !== entry) return;
        refunded = true;
        entry.count = Math.max(0, entry.count - 1);
      },
    };
  }

  /** Attempts counted for `key` in its current window. */
  count(key: string, now = Date.now()): number {
    const entry = this.hits.get(key);
    return entry && entry.resetAt > now ? entry.count : 0;
  }

  /** Whether `key` has used up its limit (for callers that decide *how* to limit, not whether). */
  exhausted(key: string, now = Date.now()): boolean {
    return this.count(key, now) >= this.limit;
  }

  /** End of `key`'s current window (ms epoch), or now when it has none. */
  windowEnd(key: string, now = Date.now()): number {
    const entry = this.hits.get(key);
    return entry && entry.resetAt > now ? entry.resetAt : now;
  }

  reset(key: string) {
    this.hits.delete(key);
  }

  private sweep(now: number) {
    for (const [k, v] of this.hits) if (v.resetAt <= now) this.hits.delete(k);
  }
}

/**
 * Runs async sections one at a time per key: check-a-limit, await-something, record-the-outcome
 * becomes atomic for everyone sharing a key. Keys are taken in sorted order, so two sections
 * locking overlapping key sets cannot deadlock.
 */
export class KeyedLock {
  private tails = new Map<string, Promise<void>>();

  async run<T>(keys: string[], section: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    try {
      for (const key of unique) releases.push(await this.acquire(key));
      return await section();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      // Last holder out removes the key, so the map does not grow with every address seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
