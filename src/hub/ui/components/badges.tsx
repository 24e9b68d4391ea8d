// Small display pieces of the admin pages: relative times, status badges, inline icons.
import { formatTime, INVALID, isoDatetime } from "../format";

export function Time(props: { ts: number | null | undefined; never?: string }) {
  if (!props.ts) return <span class="muted">{props.never ?? "never"}</span>;
  const t = formatTime(props.ts);
  const datetime = isoDatetime(props.ts);
  if (!datetime) return <span class="invalid" title={t.absolute}>{INVALID}</span>;
  return (
    <time datetime={datetime} title={t.absolute}>
      {t.relative}
    </time>
  );
}

/** A coloured pill; app.css colours it by status name (active, revoked, online, …). */
export function StatusBadge(props: { status: string; label?: string }) {
  return <span class={`badge ${props.status}`}>{props.label ?? props.status}</span>;
}

/** The seed's "People+" roles icon, drawn inline (SVG attributes are allowed by the CSP). */
export function PeoplePlusIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6" />
      <path d="M19 8v6M16 11h6" />
    </svg>
  );
}
