// Plain formatting helpers shared by every admin page (no JSX here).

/** "2026-11-24 19:30:00 UTC", or "—" when there is no time. */
export function isoTime(ts: number | null | undefined): string {
  return ts ? new Date(ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";
}

/** "3 min ago" / "in 5 d" plus an absolute UTC time for the tooltip. */
export function formatTime(ts: number | null | undefined, now = Date.now()): { relative: string; absolute: string } {
  if (!ts) return { relative: "never", absolute: "" };
  const absolute = isoTime(ts);
  const diff = Math.round((ts - now) / 1000);
  const s = Math.abs(diff);
  let span: string;
  if (s < 45) return { relative: diff <= 0 ? "just now" : "in a moment", absolute };
  else if (s < 3600) span = `${Math.round(s / 60)} min`;
  else if (s < 86400) span = `${Math.round(s / 3600)} h`;
  else span = `${Math.round(s / 86400)} d`;
  return { relative: diff < 0 ? `${span} ago` : `in ${span}`, absolute };
}

/** "3 min ago", "never". */
export function ago(ts: number | null | undefined, now = Date.now()): string {
  return formatTime(ts, now).relative;
}

/** "12 d left" / "expired 3 d ago" for a certificate's notAfter. */
export function daysLeft(notAfter: number | null | undefined, now = Date.now()): string {
  if (!notAfter) return "";
  const d = Math.floor((notAfter - now) / 86400_000);
  return d < 0 ? `expired ${-d} d ago` : `${d} d left`;
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
