// Sign-in rules, out of the login page (which only renders the outcome): password guesses are
// limited per user+address and per address (security/sign-in-limits.ts), the password is
// verified against a dummy hash when the user does not exist (timing reveals no usernames),
// disabled users and users without a hub role are refused, every outcome is counted and
// audited — refusals while over a limit as one counted row per burst — and a success opens a
// session. One instance per hub app (its own attempt counters).
// Changing one's own password is limited the same way (a stolen session must not become a
// password oracle): changeOwnPasswordLimited.
import { audit, type Actor } from "../../db/audit";
import type { HubDb } from "../../db/client";
import { findUserByUsername, recordSignIn } from "../../db/principals";
import { canRead, rolesOf } from "../../db/roles";
import { createSession, deleteSession } from "../../db/sessions";
import type { HubConfig } from "../config";
import type { Metrics } from "../metrics";
import { AuditBursts } from "../security/audit-bursts";
import { RateLimiter } from "../security/rate-limit";
import { SignInLimits } from "../security/sign-in-limits";
import { changeOwnPassword } from "./principals";
import { RuleError } from "./errors";

export interface SignInDeps {
  db: HubDb;
  config: Pick<HubConfig, "sessions">;
  metrics: Metrics;
  services: { name: string; stop(): Promise<void> | void }[];
}

export type SignInFailure = "bad-credentials" | "disabled" | "no-role";

export type SignInOutcome =
  | { ok: true; sessionToken: string }
  | { ok: false; reason: "rate-limited"; retryAfterSeconds: number }
  | { ok: false; reason: SignInFailure };

// A valid argon2id hash to verify against when the user does not exist, so timing
// does not reveal which usernames exist.
// Computed on first use, off the start-up path (argon2id takes tens of milliseconds).
let dummyHash: Promise<string> | undefined;
const getDummyHash = () => (dummyHash ??= Bun.password.hash("certhub-no-such-user", { algorithm: "argon2id" }));

export function createSignIn() {
  const limits = new SignInLimits();
  let bursts: AuditBursts | undefined;

  return async function signIn(deps: SignInDeps, input: { username: string; password: string; ip: string; clientIp?: string | null; userAgent?: string }): Promise<SignInOutcome> {
    const { db, metrics } = deps;
    // `ip` keys the limits ("unknown" when there is none); `clientIp` is what failures audit.
    const { username, password, ip } = input;
    const failures = () => metrics.counter("certhub_signin_failures_total", "Failed admin sign-in attempts");
    const refuse = async (reason: SignInFailure): Promise<SignInOutcome> => {
      failures().inc({ reason });
      await audit(db, { id: null, label: username || "(empty)", ip: input.clientIp === undefined ? ip : input.clientIp }, "login.failure", null, { reason }, "failure");
      return { ok: false, reason };
    };
    // Reserved before argon2id runs (synchronously), so a burst cannot outrun the limit.
    const attempt = limits.attempt(username, ip);
    // Refusals (and guesses from an address over its limit) are audited as one counted row per
    // limiter key and window.
    const auditBurst = (byAddress: boolean) => {
      if (!bursts) {
        bursts = new AuditBursts(db);
        // Pending counts are written before the database closes.
        const pending = bursts;
        deps.services.push({ name: "sign-in-audit-bursts", stop: () => pending.flushAll() });
      }
      return byAddress
        ? bursts.record(`address|${ip}`, limits.perAddress.windowEnd(ip), { id: null, label: "(any user)", ip }, "login.rate_limited", { scope: "address" })
        : bursts.record(`user|${username.toLowerCase()}|${ip}`, limits.windowEnd(username, ip), { id: null, label: username, ip }, "login.rate_limited", { scope: "user+address", username });
    };
    if (!attempt.ok) {
      await auditBurst(attempt.addressOverLimit);
      failures().inc({ reason: "rate-limited" });
      return { ok: false, reason: "rate-limited", retryAfterSeconds: attempt.retryAfterSeconds };
    }
    const found = await findUserByUsername(db, username);
    const valid = await Bun.password.verify(password, found?.user.passwordHash ?? (await getDummyHash()));
    if (!found || !valid) {
      if (attempt.addressOverLimit) {
        // Spraying from this address: one counted row per window, not one per guess.
        await auditBurst(true);
        failures().inc({ reason: "bad-credentials" });
        return { ok: false, reason: "bad-credentials" };
      }
      return refuse("bad-credentials");
    }
    attempt.succeeded();
    if (found.principal.disabled) return refuse("disabled");
    if (!canRead(await rolesOf(db, found.principal.id))) return refuse("no-role");
    const session = await createSession(db, found.principal.id, { ip, userAgent: input.userAgent }, deps.config.sessions);
    await recordSignIn(db, found.principal.id);
    await audit(db, { id: found.principal.id, label: found.user.username, ip }, "login.success");
    return { ok: true, sessionToken: session.token };
  };
}

/** Wrong current passwords per user (across their sessions) before the session making them ends. */
export const PASSWORD_CHANGE_FAILURES = 5;
const PASSWORD_CHANGE_WINDOW_MS = 15 * 60_000;
// Keyed by principal id, which is unique per hub, so one counter serves every hub in the process.
const wrongCurrentPasswords = new RateLimiter(PASSWORD_CHANGE_FAILURES, PASSWORD_CHANGE_WINDOW_MS);

export type PasswordChangeOutcome =
  | { ok: true }
  | { ok: false; reason: "wrong-current" }
  /** Too many wrong current passwords: this session has been ended (the page clears the cookie). */
  | { ok: false; reason: "signed-out"; retryAfterSeconds: number };

/**
 * The signed-in user changes their own password (core/principals.ts changeOwnPassword), counted
 * before argon2id runs so simultaneous guesses cannot outrun the limit; at the limit the session
 * making the guesses ends and the lockout is audited.
 */
export async function changeOwnPasswordLimited(
  db: HubDb,
  input: { principalId: string; sessionIdHash: string | undefined; current: string; next: string },
  actor: Actor,
): Promise<PasswordChangeOutcome> {
  const signOut = async (retryAfterSeconds: number): Promise<PasswordChangeOutcome> => {
    if (input.sessionIdHash) await deleteSession(db, input.sessionIdHash);
    await audit(db, actor, "account.password-change-limit", { type: "principal", id: input.principalId }, { sessionEnded: true }, "failure");
    return { ok: false, reason: "signed-out", retryAfterSeconds };
  };
  const slot = wrongCurrentPasswords.reserve(input.principalId);
  if (!slot.ok) return signOut(slot.retryAfterSeconds);
  try {
    await changeOwnPassword(db, input.principalId, input.current, input.next, input.sessionIdHash, actor);
  } catch (err) {
    if (!(err instanceof RuleError && err.field === "current")) {
      slot.refund();
      throw err;
    }
    if (wrongCurrentPasswords.exhausted(input.principalId)) return signOut(slot.retryAfterSeconds);
    return { ok: false, reason: "wrong-current" };
  }
  wrongCurrentPasswords.reset(input.principalId);
  return { ok: true };
}
