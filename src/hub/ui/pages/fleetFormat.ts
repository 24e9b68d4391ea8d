// Formatting helpers for the fleet pages (instances, certificates).

export function ago(ts: number | null | undefined, now = Date.now()): string {
  if (!ts) return "never";
  const s = Math.round((now - ts) / 1000);
  if (s < 0) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function isoTime(ts: number | null | undefined): string {
  return ts ? new Date(ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";
}

export function daysLeft(notAfter: number | null | undefined, now = Date.now()): string {
  if (!notAfter) return "";
  const d = Math.floor((notAfter - now) / 86400_000);
  return d < 0 ? `expired ${-d} d ago` : `${d} d left`;
}

/** Query string from the non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "" && v !== 0) u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : "";
}
