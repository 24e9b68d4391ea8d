// Join limits: the sign-in model (sign-in-limits.ts) applied to joining keys, because a fleet
// joins from behind one NAT just as people sign in from behind one proxy.
//
// - per address+client id (5 failures / min): locks that client id from that address, even with
//   the right secret, so one key's secret cannot be guessed at from one place. A host with a
//   wrong secret locks only its own client id: the good hosts behind the same NAT, joining with
//   another client id, carry on.
// - per address (50 failures / min, across client ids): bounds spraying client ids. Going over
//   it never blocks a client id that has not failed from there (the right secret still joins),
//   but a failure from an address over its limit is answered 429 and costs that client id its
//   one try, so a spray stops getting answers, and its audit rows are aggregated by the caller.
// There is no limit per client id across addresses: a joining-key secret has 160 random bits, so
// guessing it from many addresses is hopeless, while such a lock would let anyone who knows a
// client id (it is printed in every join command) stop every join with it.
// Only wrong secrets count: slots are reserved before the key is checked and refunded when the
// secret was right, even for a key that is revoked or used up (not a guess; it gets its own
// error) (rate-limit.ts), and each address+client id runs its checks one at a time (KeyedLock).
// The per-key/per-address model itself is failure-limits.ts, shared with sign-in.
import { type FailureAttempt, FailureLimits } from "./failure-limits";
import { KeyedLock, RateLimiter } from "./rate-limit";

export const JOIN_WINDOW_MS = 60_000;
export const JOIN_FAILURES_PER_CLIENT = 5;
export const JOIN_FAILURES_PER_ADDRESS = 50;
/** Tries per address+client id while the address is over its own limit. */
export const JOIN_FAILURES_PER_CLIENT_UNDER_PRESSURE = 1;
/** Every join attempt per address, failed or not (a host fleet behind one NAT still fits). */
export const JOINS_PER_ADDRESS = 600;

export type JoinAttempt = FailureAttempt;

export type JoinCheck<T> = { limited: true; retryAfterSeconds: number } | { limited: false; value: T; addressOverLimit: boolean };

export class JoinLimits {
  readonly all = new RateLimiter(JOINS_PER_ADDRESS, JOIN_WINDOW_MS);
  private readonly limits = new FailureLimits({
    windowMs: JOIN_WINDOW_MS,
    perKey: JOIN_FAILURES_PER_CLIENT,
    perAddress: JOIN_FAILURES_PER_ADDRESS,
    perKeyUnderPressure: JOIN_FAILURES_PER_CLIENT_UNDER_PRESSURE,
  });
  readonly perClient = this.limits.perKey;
  readonly perAddress = this.limits.perAddress;
  private readonly lock = new KeyedLock();

  /** Counts one join request from `address` (before any parsing); refused past JOINS_PER_ADDRESS. */
  request(address: string) {
    return this.all.take(address);
  }

  /**
   * Runs `check` (the key lookup) under the limits for `clientId` from `address`, one at a time
   * per address+client id, with a failure counted before it runs. `check` answers whether the
   * secret was right (the slot is then given back); a refusal by the limits comes back as
   * `{ limited: true }` without running it.
   */
  async run<T>(address: string, clientId: string, check: () => Promise<{ ok: boolean; value: T }>): Promise<JoinCheck<T>> {
    return this.lock.run([clientKey(address, clientId)], async (): Promise<JoinCheck<T>> => {
      const attempt = this.attempt(address, clientId);
      if (!attempt.ok) return { limited: true, retryAfterSeconds: attempt.retryAfterSeconds };
      const result = await check();
      if (result.ok) attempt.succeeded();
      return { limited: false, value: result.value, addressOverLimit: attempt.addressOverLimit };
    });
  }

  /** Claims one try for `clientId` from `address`; synchronous, so a burst cannot all see a free slot. */
  attempt(address: string, clientId: string): JoinAttempt {
    return this.limits.attempt(clientKey(address, clientId), address);
  }

  /** Seconds until `address`'s failure window ends (Retry-After for a refused spray). */
  addressRetryAfter(address: string, now = Date.now()) {
    return Math.max(1, Math.ceil((this.perAddress.windowEnd(address, now) - now) / 1000));
  }
}

const clientKey = (address: string, clientId: string) => `${address}|${clientId}`;
