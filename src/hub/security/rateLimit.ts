// Fixed-window-with-decay rate limiter (in memory, per hub process). Used for sign-in
// attempts and joins, keyed by username, client id and source address.
export interface RateLimitResult {
  ok: boolean;
  retryAfterSeconds: number;
}

export class RateLimiter {
  private hits = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Records one attempt for `key` and says whether it is allowed. */
  take(key: string, now = Date.now()): RateLimitResult {
    let entry = this.hits.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + this.windowMs };
      this.hits.set(key, entry);
      if (this.hits.size > 50_000) this.sweep(now);
    }
    entry.count++;
    return { ok: entry.count <= this.limit, retryAfterSeconds: Math.max(1, Math.ceil((entry.resetAt - now) / 1000)) };
  }

  /** Says whether `key` is currently blocked without counting an attempt. */
  peek(key: string, now = Date.now()): RateLimitResult {
    const entry = this.hits.get(key);
    if (!entry || entry.resetAt <= now) return { ok: true, retryAfterSeconds: 0 };
    return { ok: entry.count < this.limit, retryAfterSeconds: Math.max(1, Math.ceil((entry.resetAt - now) / 1000)) };
  }

  reset(key: string) {
    this.hits.delete(key);
  }

  private sweep(now: number) {
    for (const [k, v] of this.hits) if (v.resetAt <= now) this.hits.delete(k);
  }
}
