// The hub's Retry-After as the agent reads it: seconds or an HTTP date, validated, at most an
// hour (a wrong header must not park an agent for days); anything else is ignored.
import { describe, expect, test } from "bun:test";
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "../../../src/agent/hub-client";

const NOW = Date.parse("2026-12-01T22:00:00Z");

describe("parseRetryAfter", () => {
  test("seconds", () => {
    expect(parseRetryAfter("42", NOW)).toBe(42_000);
    expect(parseRetryAfter(" 0 ", NOW)).toBe(0);
  });

  test("an HTTP date, relative to now; a past date means now", () => {
    expect(parseRetryAfter("Tue, 01 Dec 2026 22:00:30 GMT", NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfter("Tue, 01 Dec 2026 21:59:00 GMT", NOW)).toBe(0);
  });

  test("bounded to an hour, whichever form", () => {
    expect(MAX_RETRY_AFTER_MS).toBe(3600_000);
    expect(parseRetryAfter("86400", NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("9999999999", NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", NOW)).toBe(MAX_RETRY_AFTER_MS);
  });

  test("anything else is no Retry-After", () => {
    for (const bad of [null, undefined, "", "-5", "1.5", "1e3", "soon", "0x10", "99999999999", "Tue, 01 Dec 2026 22:00:30 PST", "2026-12-01T22:00:30Z", "Tue, 1 Dec 2026 22:00:30 GMT"]) {
      expect(parseRetryAfter(bad, NOW)).toBeNull();
    }
  });
});
