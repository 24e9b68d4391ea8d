// The hub's Retry-After (RFC 9110 §10.2.3) on a 503 or 429 answer, as the agent trusts it: a
// number of seconds or an HTTP date, nothing else. It crosses a trust boundary (a proxy may
// add one too), so it is validated and bounded: at most an hour, so a wrong header cannot
// park an agent's push channel or sync for days.
import { z } from "zod";

export const MAX_RETRY_AFTER_MS = 3600_000;

// delta-seconds is 1*DIGIT; ten digits are already far past the bound.
const DeltaSeconds = z.string().regex(/^\d{1,10}$/);
// IMF-fixdate, e.g. "Tue, 01 Dec 2026 22:16:22 GMT" (the two obsolete forms are not sent by
// anything the agent talks to, and Date.parse would accept far too much else).
const HttpDate = z.string().regex(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);

/** Milliseconds to wait, bounded to [0, MAX_RETRY_AFTER_MS]; null when absent or not valid. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (DeltaSeconds.safeParse(v).success) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  if (HttpDate.safeParse(v).success) {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return null;
    return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
  }
  return null;
}

/** Statuses on which a hub (or a proxy before it) asks to come back later. */
export const isBusyStatus = (status: number | undefined) => status === 503 || status === 429;
