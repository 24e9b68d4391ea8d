// Plain formatting helpers shared by every admin page (no JSX here).
//
// Total: every helper returns a string for any input. Times come from the database, where an
// old agent, a bug or a hand edit may have left anything (9e15, a string, a float): a value
// that is not a renderable time shows as "invalid", never as a 500 for the whole page
// (security review #3; `new Date(9e15).toISOString()` throws a RangeError).

/** Shown in place of a time or number that cannot be rendered. */
export const INVALID = "invalid";

/** Largest |epoch ms| a Date can hold (±100,000,000 days). */
const MAX_DATE_MS = 8.64e15;

/** A Date for a finite epoch-ms number within the Date range; null for anything else. */
export function toDate(ts: unknown): Date | null {
  if (typeof ts !== "number" || !Number.isFinite(ts) || Math.abs(ts) > MAX_DATE_MS) return null;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** ISO 8601 for a <time datetime>, or undefined when the value is not a time. */
export function isoDatetime(ts: unknown): string | undefined {
  const d = toDate(ts);
  if (!d) return undefined;
  try {
    return d.toISOString();
  } catch {
    return undefined;
  }
}

/** "2026-11-24 19:30:00 UTC", "—" when there is no time, "invalid" when it is not one. */
export function isoTime(ts: unknown): string {
  if (ts === null || ts === undefined || ts === 0) return "—";
  const iso = isoDatetime(ts);
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, " UTC") : INVALID;
}

/** "3 min ago" / "in 5 d" plus an absolute UTC time for the tooltip. */
export function formatTime(ts: unknown, now = Date.now()): { relative: string; absolute: string } {
  if (ts === null || ts === undefined || ts === 0) return { relative: "never", absolute: "" };
  if (!toDate(ts)) return { relative: INVALID, absolute: `${INVALID} time: ${describe(ts)}` };
  const t = ts as number;
  const absolute = isoTime(t);
  const diff = Math.round((t - now) / 1000);
  const s = Math.abs(diff);
  let span: string;
  if (s < 45) return { relative: diff <= 0 ? "just now" : "in a moment", absolute };
  else if (s < 3600) span = `${Math.round(s / 60)} min`;
  else if (s < 86400) span = `${Math.round(s / 3600)} h`;
  else span = `${Math.round(s / 86400)} d`;
  return { relative: diff < 0 ? `${span} ago` : `in ${span}`, absolute };
}

/** "3 min ago", "never". */
export function ago(ts: unknown, now = Date.now()): string {
  return formatTime(ts, now).relative;
}

/** "12 d left" / "expired 3 d ago" for a certificate's notAfter. */
export function daysLeft(notAfter: unknown, now = Date.now()): string {
  if (notAfter === null || notAfter === undefined || notAfter === 0) return "";
  if (!toDate(notAfter)) return INVALID;
  const d = Math.floor(((notAfter as number) - now) / 86400_000);
  return d < 0 ? `expired ${-d} d ago` : `${d} d left`;
}

/** "1.2 s", "350 ms", "2 min"; "invalid" for a negative, non-finite or non-number value. */
export function duration(ms: unknown): string {
  if (ms === null || ms === undefined) return "—";
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return INVALID;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** A count for display ("1,234"); "invalid" for anything that is not a finite number. */
export function count(n: unknown): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return n === null || n === undefined ? "—" : INVALID;
  return n.toLocaleString("en-US");
}

/** A short, safe description of a bad value for a tooltip. */
function describe(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Query string from the non-empty values; the defaults page 1 and offset 0 are left out. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    if ((k === "page" && Number(v) <= 1) || (k === "offset" && Number(v) === 0)) continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : "";
}
