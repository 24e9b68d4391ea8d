// The renewal time rules as tables: lifetime share, days before expiry, ARI window, back-off
// growth and cap, the plan's priorities and the derived status.
import { describe, expect, test } from "bun:test";
import {
  backoffDelay,
  certificateStatus,
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  nextAriFetch,
  nextPlan,
  orderKey,
  renewalPolicy,
  renewalTime,
  type PlanState,
} from "../../../src/agent/certificates/plan";
import { readSettings } from "../../../src/protocol/settings";

const T0 = Date.UTC(2026, 0, 1);
const cert90 = { notBefore: T0, notAfter: T0 + 90 * DAY_MS };
const cert6 = { notBefore: T0, notAfter: T0 + 6 * DAY_MS };

describe("renewalTime", () => {
  const cases: [string, { notBefore: number; notAfter: number }, { lifetimePercent: number; daysBeforeExpiry: number }, { start: number; end: number } | null, number, number, string][] = [
    ["90 days at the default 67 %: day 60.3", cert90, { lifetimePercent: 67, daysBeforeExpiry: 0 }, null, 0.5, T0 + Math.floor(90 * DAY_MS * 0.67), "lifetime"],
    ["6 days at 67 %", cert6, { lifetimePercent: 67, daysBeforeExpiry: 0 }, null, 0.5, T0 + Math.floor(6 * DAY_MS * 0.67), "lifetime"],
    ["90 days at 50 %", cert90, { lifetimePercent: 50, daysBeforeExpiry: 0 }, null, 0.5, T0 + 45 * DAY_MS, "lifetime"],
    ["30 days before expiry of a 90-day certificate", cert90, { lifetimePercent: 67, daysBeforeExpiry: 30 }, null, 0.5, T0 + 60 * DAY_MS, "days-before-expiry"],
    ["10 days before expiry", cert90, { lifetimePercent: 67, daysBeforeExpiry: 10 }, null, 0.5, T0 + 80 * DAY_MS, "days-before-expiry"],
    ["30 days before expiry of a 6-day certificate falls back to the lifetime share (no renewal loop)", cert6, { lifetimePercent: 67, daysBeforeExpiry: 30 }, null, 0.5, T0 + Math.floor(6 * DAY_MS * 0.67), "lifetime"],
    ["ARI window wins: start at random 0", cert90, { lifetimePercent: 67, daysBeforeExpiry: 30 }, { start: T0 + 50 * DAY_MS, end: T0 + 52 * DAY_MS }, 0, T0 + 50 * DAY_MS, "ari"],
    ["ARI window: middle at random 0.5", cert90, { lifetimePercent: 67, daysBeforeExpiry: 0 }, { start: T0 + 50 * DAY_MS, end: T0 + 52 * DAY_MS }, 0.5, T0 + 51 * DAY_MS, "ari"],
    ["ARI window: random 0.999999 stays inside", cert90, { lifetimePercent: 67, daysBeforeExpiry: 0 }, { start: T0 + 50 * DAY_MS, end: T0 + 52 * DAY_MS }, 0.9999999, T0 + 50 * DAY_MS + Math.floor(0.999999 * 2 * DAY_MS), "ari"],
    ["ARI window in the past (revoked): renew at its start, i.e. now", cert90, { lifetimePercent: 67, daysBeforeExpiry: 0 }, { start: T0 - DAY_MS, end: T0 - DAY_MS }, 0.3, T0 - DAY_MS, "ari"],
    ["an inverted ARI window is ignored", cert90, { lifetimePercent: 50, daysBeforeExpiry: 0 }, { start: T0 + 10 * DAY_MS, end: T0 + 9 * DAY_MS }, 0.3, T0 + 45 * DAY_MS, "lifetime"],
  ];
  for (const [name, cert, policy, ari, random, at, reason] of cases) {
    test(name, () => {
      expect(renewalTime(cert, policy, ari, random)).toEqual({ at, reason: reason as never });
    });
  }

  test("ARI times spread over the whole window", () => {
    const w = { start: T0, end: T0 + DAY_MS };
    const times = Array.from({ length: 200 }, () => renewalTime(cert90, { lifetimePercent: 67, daysBeforeExpiry: 0 }, w, Math.random()).at);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(w.start);
    expect(Math.max(...times)).toBeLessThanOrEqual(w.end);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(DAY_MS / 2);
  });
});

describe("renewalPolicy", () => {
  const defaults = readSettings({});
  test("defaults: 2/3 of the lifetime", () => {
    expect(renewalPolicy({}, defaults)).toEqual({ lifetimePercent: 67, daysBeforeExpiry: 0 });
  });
  test("instance settings: days before expiry", () => {
    expect(renewalPolicy({}, readSettings({ renewalDaysBeforeExpiry: 20 }))).toEqual({ lifetimePercent: 67, daysBeforeExpiry: 20 });
  });
  test("the certificate's own percent wins over settings' days", () => {
    expect(renewalPolicy({ renewal: { lifetimePercent: 50 } }, readSettings({ renewalDaysBeforeExpiry: 20 }))).toEqual({ lifetimePercent: 50, daysBeforeExpiry: 0 });
  });
  test("the certificate's own days win", () => {
    expect(renewalPolicy({ renewal: { daysBeforeExpiry: 14 } }, readSettings({ renewalLifetimePercent: 80 }))).toEqual({ lifetimePercent: 80, daysBeforeExpiry: 14 });
  });
  test("an invalid setting falls back to the default", () => {
    expect(renewalPolicy({}, readSettings({ renewalLifetimePercent: 500 }))).toEqual({ lifetimePercent: 67, daysBeforeExpiry: 0 });
  });
});

describe("backoffDelay", () => {
  const L90 = 90 * DAY_MS;
  const cases: [number, number | null, number][] = [
    [1, L90, 1 * MINUTE_MS],
    [2, L90, 5 * MINUTE_MS],
    [3, L90, 15 * MINUTE_MS],
    [4, L90, 30 * MINUTE_MS],
    [5, L90, HOUR_MS],
    [6, L90, 2 * HOUR_MS],
    [7, L90, 4 * HOUR_MS],
    [8, L90, 8 * HOUR_MS],
    [9, L90, 16 * HOUR_MS],
    [10, L90, DAY_MS],
    [50, L90, DAY_MS], // capped at one day
    [1000, null, DAY_MS], // no certificate yet: one day at most
    [9, 6 * DAY_MS, Math.floor(0.6 * DAY_MS)], // 1/10 of a 6-day lifetime = 14.4 h
    [10, 6 * DAY_MS, Math.floor(0.6 * DAY_MS)],
    [4, HOUR_MS, 6 * MINUTE_MS], // 1/10 of a 1-hour certificate
    [1, 5 * MINUTE_MS, MINUTE_MS], // never below a minute
    [0, L90, MINUTE_MS],
  ];
  for (const [failures, lifetime, expected] of cases) {
    test(`${failures} failure(s), lifetime ${lifetime === null ? "unknown" : `${lifetime / HOUR_MS} h`} → ${expected / MINUTE_MS} min`, () => {
      expect(backoffDelay(failures, lifetime)).toBe(expected);
    });
  }
  test("never shrinks as failures grow", () => {
    for (const lifetime of [null, HOUR_MS, 6 * DAY_MS, 90 * DAY_MS]) {
      let prev = 0;
      for (let n = 1; n < 30; n++) {
        const d = backoffDelay(n, lifetime);
        expect(d).toBeGreaterThanOrEqual(prev);
        prev = d;
      }
    }
  });
});

describe("nextAriFetch honours Retry-After within bounds", () => {
  test.each([
    [21_600_000, 21_600_000],
    [1000, MINUTE_MS],
    [10 * DAY_MS, DAY_MS],
    [null, 6 * HOUR_MS],
  ])("retry after %p → %p", (retry, wait) => {
    expect(nextAriFetch(T0, retry)).toBe(T0 + wait);
  });
});

describe("nextPlan", () => {
  const policy = { lifetimePercent: 67, daysBeforeExpiry: 0 };
  const base: PlanState = { hasCert: true, ...cert90, ordered: true, definitionChanged: false, forceOrder: false, failureCount: 0, nextRenewalAt: null, renewalReason: null, ariWindow: null };
  const now = T0 + DAY_MS;
  const cases: [string, Partial<PlanState>, number, string][] = [
    ["renew now wins over everything", { forceOrder: true, failureCount: 3, nextRenewalAt: now + DAY_MS }, now, "manual"],
    ["a new definition orders at once", { hasCert: false, notBefore: null, notAfter: null, ordered: false, definitionChanged: true }, now, "new"],
    ["a changed definition orders at once", { ordered: false, definitionChanged: true }, now, "changed"],
    ["a changed definition orders at once even during a back-off", { ordered: false, definitionChanged: true, failureCount: 4, nextRenewalAt: now + 3 * HOUR_MS, renewalReason: "backoff" }, now, "changed"],
    ["a back-off is kept when nothing changed", { failureCount: 2, nextRenewalAt: now + 5 * MINUTE_MS, renewalReason: "backoff" }, now + 5 * MINUTE_MS, "backoff"],
    ["a first order in back-off is kept", { hasCert: false, notBefore: null, notAfter: null, ordered: false, failureCount: 1, nextRenewalAt: now + MINUTE_MS }, now + MINUTE_MS, "backoff"],
    ["no certificate and no plan: order now", { hasCert: false, notBefore: null, notAfter: null, ordered: false }, now, "new"],
    ["ordered with an older definition (restart after an edit): now", { ordered: false }, now, "changed"],
    ["a valid certificate: 2/3 of its lifetime", {}, T0 + Math.floor(90 * DAY_MS * 0.67), "lifetime"],
    ["a time already chosen inside the ARI window is kept", { ariWindow: { start: T0 + 50 * DAY_MS, end: T0 + 52 * DAY_MS }, nextRenewalAt: T0 + 51 * DAY_MS + 123, renewalReason: "ari" }, T0 + 51 * DAY_MS + 123, "ari"],
    ["a moved ARI window picks a new time inside it", { ariWindow: { start: T0 + 40 * DAY_MS, end: T0 + 42 * DAY_MS }, nextRenewalAt: T0 + 51 * DAY_MS, renewalReason: "ari" }, T0 + 40 * DAY_MS, "ari"],
  ];
  for (const [name, state, at, reason] of cases) {
    test(name, () => {
      expect(nextPlan({ ...base, ...state }, policy, now, 0)).toEqual({ at, reason: reason as never });
    });
  }
});

describe("orderKey", () => {
  const spec = { domains: ["a.test", "b.test"], keyType: "ecdsa-p256" as const, caAccountId: "ca1", challenge: { type: "http-01" as const, port: 80 } };
  test("domain order does not matter; domains, key type, CA and challenge do", () => {
    const k = orderKey(spec);
    expect(orderKey({ ...spec, domains: ["b.test", "a.test"] })).toBe(k);
    expect(orderKey({ ...spec, domains: ["a.test"] })).not.toBe(k);
    expect(orderKey({ ...spec, keyType: "rsa-2048" })).not.toBe(k);
    expect(orderKey({ ...spec, caAccountId: "ca2" })).not.toBe(k);
    expect(orderKey({ ...spec, challenge: { type: "http-01", port: 8080 } })).not.toBe(k);
  });
});

describe("certificateStatus", () => {
  const L = 90 * DAY_MS;
  const cases: [string, string, { notBefore: number | null; notAfter: number | null }, number, string][] = [
    ["no certificate yet", "pending", { notBefore: null, notAfter: null }, T0, "pending"],
    ["first order running", "renewing", { notBefore: null, notAfter: null }, T0, "renewing"],
    ["first order failed", "failed", { notBefore: null, notAfter: null }, T0, "failed"],
    ["valid", "valid", cert90, T0 + DAY_MS, "valid"],
    ["renewal running", "renewing", cert90, T0 + 61 * DAY_MS, "renewing"],
    ["renewal failed, plenty of time left", "failed", cert90, T0 + 61 * DAY_MS, "failed"],
    ["renewal failed, under 14 days left: expiring", "failed", cert90, T0 + L - 13 * DAY_MS, "expiring"],
    ["valid but under 14 days left: expiring", "valid", cert90, T0 + L - 13 * DAY_MS, "expiring"],
    ["6-day certificate: expiring in its last day", "valid", cert6, T0 + 5 * DAY_MS + HOUR_MS, "expiring"],
    ["6-day certificate: valid before its last day", "valid", cert6, T0 + 4 * DAY_MS, "valid"],
    ["expired, whatever was stored", "renewing", cert90, T0 + L, "expired"],
  ];
  for (const [name, stored, cert, now, status] of cases) {
    test(name, () => expect(certificateStatus(stored, cert, now)).toBe(status as never));
  }
});
