// Failure limits shared by sign-in (sign-in-limits.ts) and joins (join-limits.ts): a lock per
// key+address after N failures, and a per-address limit that bounds spraying keys without ever
// blocking a key that has not failed from that address.
//
// - per key+address (`perKey` failures / window): locks that key from that address, even for the
//   right secret, so one account or client id cannot be guessed at from one place.
// - per address (`perAddress` failures / window, across keys): behind a proxy or NAT many people
//   or hosts share an address, so going over it must not lock everyone out: it only tightens the
//   per-key budget from that address to `perKeyUnderPressure` tries per window.
// Every slot is reserved before the (expensive or async) check and refunded when the secret was
// right (see rate-limit.ts).
import { RateLimiter } from "./rate-limit";

export interface FailureLimitsOptions {
  windowMs: number;
  perKey: number;
  perAddress: number;
  /** Tries per key+address while the address is over its own limit. */
  perKeyUnderPressure: number;
}

export type FailureAttempt =
  | { ok: true; addressOverLimit: boolean; succeeded(): void }
  | { ok: false; addressOverLimit: boolean; retryAfterSeconds: number };

export class FailureLimits {
  readonly perKey: RateLimiter;
  readonly perAddress: RateLimiter;
  private readonly perKeyUnderPressure: number;

  constructor(options: FailureLimitsOptions) {
    this.perKey = new RateLimiter(options.perKey, options.windowMs);
    this.perAddress = new RateLimiter(options.perAddress, options.windowMs);
    this.perKeyUnderPressure = options.perKeyUnderPressure;
  }

  /**
   * Claims the right to check one secret for `key` (already combined with the address) from
   * `address`; synchronous, so simultaneous attempts cannot all see a free slot. Call
   * `succeeded()` when the secret was right.
   */
  attempt(key: string, address: string): FailureAttempt {
    const addressOverLimit = this.perAddress.exhausted(address);
    const reserved = this.perKey.reserve(key, addressOverLimit ? this.perKeyUnderPressure : this.perKey.limit);
    if (!reserved.ok) return { ok: false, addressOverLimit, retryAfterSeconds: reserved.retryAfterSeconds };
    // Never refuses: the address count only decides how tight the per-key budget is.
    const addr = this.perAddress.reserve(address, Number.POSITIVE_INFINITY);
    return {
      ok: true,
      addressOverLimit,
      succeeded: () => {
        addr.refund();
        this.perKey.reset(key);
      },
    };
  }
}
