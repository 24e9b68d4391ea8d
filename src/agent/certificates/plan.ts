// When to renew, as pure functions (tested as tables): the renewal time from the certificate's
// lifetime, the days-before-expiry setting or the CA's ARI window (RFC 9773), the back-off after
// failures, and the status the hub sees. No clock, no I/O: `now` and randomness come in.
import { createHash } from "node:crypto";
import type { CertStatus, ManagedCertificateSpec } from "../../protocol/certificates";
import type { SettingValues } from "../../protocol/settings";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export type RenewalReason = "ari" | "lifetime" | "days-before-expiry" | "backoff" | "new" | "changed" | "manual";

export interface RenewalPolicy {
  /** Share of the lifetime after which to renew (67 = 2/3). */
  lifetimePercent: number;
  /** When > 0: renew this many days before expiry instead (if shorter than the lifetime). */
  daysBeforeExpiry: number;
}

/** The certificate's own policy wins over the instance settings; one of the two kinds applies. */
export function renewalPolicy(spec: Pick<ManagedCertificateSpec, "renewal">, settings: Pick<SettingValues, "renewalLifetimePercent" | "renewalDaysBeforeExpiry">): RenewalPolicy {
  const own = spec.renewal;
  if (own?.daysBeforeExpiry) return { lifetimePercent: own.lifetimePercent ?? settings.renewalLifetimePercent, daysBeforeExpiry: own.daysBeforeExpiry };
  if (own?.lifetimePercent) return { lifetimePercent: own.lifetimePercent, daysBeforeExpiry: 0 };
  return { lifetimePercent: settings.renewalLifetimePercent, daysBeforeExpiry: settings.renewalDaysBeforeExpiry };
}

export interface Window {
  start: number;
  end: number;
}

/**
 * The planned renewal of a certificate valid from notBefore to notAfter.
 * - ARI window: a uniformly random moment inside it (`random` in [0,1)), as RFC 9773 §4.2 asks,
 *   so a fleet renewing the same day spreads out.
 * - days before expiry, when that leaves a sensible part of the lifetime (less than the whole
 *   lifetime; a 30-day setting on a 6-day certificate would otherwise renew in a loop);
 * - otherwise the share of the lifetime.
 */
export function renewalTime(cert: { notBefore: number; notAfter: number }, policy: RenewalPolicy, ari: Window | null, random: number): { at: number; reason: RenewalReason } {
  if (ari && ari.end >= ari.start) {
    return { at: Math.floor(ari.start + Math.min(Math.max(random, 0), 0.999999) * (ari.end - ari.start)), reason: "ari" };
  }
  const lifetime = Math.max(0, cert.notAfter - cert.notBefore);
  if (policy.daysBeforeExpiry > 0 && policy.daysBeforeExpiry * DAY_MS < lifetime) {
    return { at: cert.notAfter - policy.daysBeforeExpiry * DAY_MS, reason: "days-before-expiry" };
  }
  return { at: cert.notBefore + Math.floor((lifetime * policy.lifetimePercent) / 100), reason: "lifetime" };
}

/** Waits after the 1st, 2nd, 3rd … consecutive failure: soon at first, then growing. */
export const BACKOFF_STEPS_MS = [1 * MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS, 30 * MINUTE_MS, HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS, 8 * HOUR_MS, 16 * HOUR_MS, DAY_MS];
/** The wait never exceeds this share of the certificate's lifetime, nor one day. */
export const BACKOFF_LIFETIME_FRACTION = 1 / 10;

/**
 * Delay before retrying after `failures` consecutive failures (≥ 1). Capped at 1/10 of the
 * lifetime of the current certificate (so a short-lived one still gets several tries before it
 * expires) and at one day; never below one minute, so a broken config cannot hammer the CA.
 */
export function backoffDelay(failures: number, lifetimeMs: number | null): number {
  const step = BACKOFF_STEPS_MS[Math.min(Math.max(failures, 1), BACKOFF_STEPS_MS.length) - 1];
  const cap = lifetimeMs && lifetimeMs > 0 ? Math.min(DAY_MS, lifetimeMs * BACKOFF_LIFETIME_FRACTION) : DAY_MS;
  return Math.max(MINUTE_MS, Math.min(step, Math.floor(cap)));
}

/** When ARI should be asked again: the CA's Retry-After, bounded to [1 min, 1 day] (default 6 h). */
export function nextAriFetch(now: number, retryAfterMs: number | null | undefined): number {
  const wait = retryAfterMs == null || !Number.isFinite(retryAfterMs) ? 6 * HOUR_MS : retryAfterMs;
  return now + Math.min(DAY_MS, Math.max(MINUTE_MS, wait));
}

/** Remaining lifetime below which a valid certificate is reported "expiring". */
export function expiringThreshold(lifetimeMs: number): number {
  return Math.min(14 * DAY_MS, Math.floor(lifetimeMs / 6));
}

/**
 * Status for the hub. The stored state is pending / renewing / failed / valid; expiring and
 * expired follow from the clock: expired wins over everything, then a running order, then
 * "expiring" (little lifetime left: more urgent than a failed attempt), then failed.
 */
export function certificateStatus(stored: string, cert: { notBefore: number | null; notAfter: number | null }, now: number): CertStatus {
  const has = cert.notAfter != null && cert.notBefore != null;
  if (has && now >= cert.notAfter!) return "expired";
  if (stored === "renewing") return "renewing";
  if (has && cert.notAfter! - now < expiringThreshold(cert.notAfter! - cert.notBefore!)) return "expiring";
  if (stored === "failed") return "failed";
  if (has) return "valid";
  return "pending";
}

/**
 * What decides the certificate's content: a change here means the current version no longer
 * matches its definition and a new one is ordered at once. (Name, tasks, verify and renewal
 * policy changes apply without a new order.)
 */
export function orderKey(spec: Pick<ManagedCertificateSpec, "domains" | "keyType" | "caAccountId" | "challenge" | "profile">): string {
  const content = { domains: [...spec.domains].sort(), keyType: spec.keyType, caAccountId: spec.caAccountId, challenge: spec.challenge, profile: spec.profile ?? null };
  return createHash("sha256").update(JSON.stringify(content)).digest("hex").slice(0, 32);
}

export interface PlanState {
  /** A current version exists. */
  hasCert: boolean;
  notBefore: number | null;
  notAfter: number | null;
  /** The current version was ordered with the definition as it is now. */
  ordered: boolean;
  /** The definition's content changed since the plan was last made (new or edited on the hub). */
  definitionChanged: boolean;
  /** The hub asked to order now. */
  forceOrder: boolean;
  failureCount: number;
  nextRenewalAt: number | null;
  renewalReason: string | null;
  ariWindow: Window | null;
}

/**
 * The next order time and why, in priority order: the hub's "renew now"; a new or changed
 * definition (at once); a running back-off (kept, so re-planning never shortens it); a first
 * order still to come; the ARI window (the moment already chosen inside it is kept); the
 * days-before-expiry / lifetime rule.
 */
export function nextPlan(s: PlanState, policy: RenewalPolicy, now: number, random: number): { at: number; reason: RenewalReason } {
  if (s.forceOrder) return { at: now, reason: "manual" };
  if (s.definitionChanged && !s.ordered) return { at: now, reason: s.hasCert ? "changed" : "new" };
  if (s.failureCount > 0 && s.nextRenewalAt != null) return { at: s.nextRenewalAt, reason: "backoff" };
  if (!s.hasCert || s.notBefore == null || s.notAfter == null) return { at: s.nextRenewalAt ?? now, reason: "new" };
  if (!s.ordered) return { at: now, reason: "changed" };
  const w = s.ariWindow;
  if (w && s.renewalReason === "ari" && s.nextRenewalAt != null && s.nextRenewalAt >= w.start && s.nextRenewalAt <= w.end) {
    return { at: s.nextRenewalAt, reason: "ari" };
  }
  return renewalTime({ notBefore: s.notBefore, notAfter: s.notAfter }, policy, w, random);
}
