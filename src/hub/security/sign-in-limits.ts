// Password-guess limits for sign-in: per user+address and per address, with different roles.
//
// - per user+address (5 failures / 15 min): locks that username from that address, even for
//   the right password, so one account cannot be guessed at from one place.
// - per address (50 failures / 15 min, across usernames): bounds password spraying. Behind a
//   proxy or NAT many people share an address, so going over it must not lock everyone out:
//   it only tightens the per-user budget from that address to one try per window. A user who
//   has not failed from there in the window still signs in with the right password.
// Every slot is reserved before argon2id runs and refunded on success (the model is shared with
// joins: failure-limits.ts).
import { type FailureAttempt, FailureLimits } from "./failure-limits";

export const SIGN_IN_WINDOW_MS = 15 * 60_000;
export const PER_USER_FAILURES = 5;
export const PER_ADDRESS_FAILURES = 50;
/** Tries per user+address while the address is over its own limit. */
export const PER_USER_FAILURES_UNDER_PRESSURE = 1;

export type SignInAttempt = FailureAttempt;

export class SignInLimits {
  private readonly limits = new FailureLimits({
    windowMs: SIGN_IN_WINDOW_MS,
    perKey: PER_USER_FAILURES,
    perAddress: PER_ADDRESS_FAILURES,
    perKeyUnderPressure: PER_USER_FAILURES_UNDER_PRESSURE,
  });
  readonly perUser = this.limits.perKey;
  readonly perAddress = this.limits.perAddress;

  /**
   * Claims the right to evaluate one password for `username` from `address`; synchronous, so
   * simultaneous attempts cannot all see a free slot. Call `succeeded()` on a right password.
   */
  attempt(username: string, address: string): SignInAttempt {
    return this.limits.attempt(userKey(username, address), address);
  }

  /** End of the window that refused `username` from `address` (for aggregating audit rows). */
  windowEnd(username: string, address: string) {
    return this.perUser.windowEnd(userKey(username, address));
  }
}

const userKey = (username: string, address: string) => `${username.toLowerCase()}|${address}`;
