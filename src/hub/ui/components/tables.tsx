// Above and below lists: the filter toolbar and the pagers.
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { HubEnv } from "../../context";

type Ctx = Context<HubEnv>;

/**
 * The GET search form above a list. Without JavaScript it reloads the page; with htmx it
 * filters as you type or pick and swaps only `table`, keeping the URL in step.
 */
export function FilterToolbar(props: { action: string; table: string; q?: string; placeholder: string; children?: Child; end?: Child }) {
  return (
    <form
      method="get"
      action={props.action}
      class="toolbar"
      hx-get={props.action}
      hx-target={`#${props.table}`}
      hx-swap="outerHTML"
      hx-push-url="true"
      hx-trigger="submit, input changed delay:300ms from:find input, change from:find select"
    >
      <input type="search" name="q" value={props.q ?? ""} placeholder={props.placeholder} aria-label="Search" maxlength={100} />
      {props.children}
      <button type="submit">Filter</button>
      <span class="spacer"></span>
      {props.end}
    </form>
  );
}

/** "1–50 of 2000 · ‹ Previous · Next ›" for offset-paginated lists (fleet pages). */
export function OffsetPager(props: { offset: number; limit: number; total: number; href: (offset: number) => string }) {
  const { offset, limit, total } = props;
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  return (
    <div class="pager">
      <span class="muted">
        {first}–{last} of {total}
      </span>
      {offset > 0 ? <a href={props.href(Math.max(0, offset - limit))}>‹ Previous</a> : null}
      {last < total ? <a href={props.href(offset + limit)}>Next ›</a> : null}
    </div>
  );
}

/** Reads ?page= (1-based), tolerating junk. */
export function pageOf(c: Ctx): number {
  const n = Number.parseInt(c.req.query("page") ?? "1", 10);
  return Number.isFinite(n) && n >= 1 && n <= 1_000_000 ? n : 1;
}

/** Previous/next links that refresh only `target` with htmx (and work as plain links). */
export function Pager(props: { page: number; pageSize: number; total: number; href: (page: number) => string; target: string }) {
  const { page, pageSize, total } = props;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(page * pageSize, total);
  const link = (p: number, label: string, rel: string) => (
    <a href={props.href(p)} rel={rel} hx-get={props.href(p)} hx-target={`#${props.target}`} hx-swap="outerHTML" hx-push-url="true">
      {label}
    </a>
  );
  return (
    <nav class="pager" aria-label="Pages">
      <span class="muted">
        {total === 0 ? "none" : `${first}–${last} of ${total}`} · page {Math.min(page, pages)} of {pages}
      </span>
      {page > 1 ? link(Math.min(page - 1, pages), "‹ Previous", "prev") : null}
      {page < pages ? link(page + 1, "Next ›", "next") : null}
    </nav>
  );
}
