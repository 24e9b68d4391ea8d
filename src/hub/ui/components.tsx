// Shared building blocks of the admin pages: time formatting, badges, filter toolbar, pager,
// empty states, form errors, the show-once secret panel with join commands, and small request
// helpers. Pages stay server-rendered; htmx only swaps these fragments. Dialogs: ./dialogs.tsx.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { z } from "zod";
import type { HubConfig } from "../config";
import type { AuthInfo, HubEnv } from "../context";
import { certificateFingerprint } from "../tls";
import { formatTime, INVALID, isoDatetime } from "./format";
import { joinCommands } from "../join-commands";

type Ctx = Context<HubEnv>;

// ---------------------------------------------------------------- time

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

// ---------------------------------------------------------------- badges, empty states, flash

/** A coloured pill; app.css colours it by status name (active, revoked, online, …). */
export function StatusBadge(props: { status: string; label?: string }) {
  return <span class={`badge ${props.status}`}>{props.label ?? props.status}</span>;
}

export function EmptyState(props: { title: string; children?: Child }) {
  return (
    <div class="empty-state">
      <p class="empty-title">{props.title}</p>
      {props.children}
    </div>
  );
}

/** Why a list shows no rows: paged past the end, filtered to nothing, or nothing yet. */
export function ListEmpty(props: { total: number; filtered: boolean; noun: string; firstPage: string; clear: string; children?: Child }) {
  if (props.total > 0) {
    return (
      <EmptyState title="This page is past the end of the list.">
        <p>
          <a href={props.firstPage}>Go to the first page</a>
        </p>
      </EmptyState>
    );
  }
  if (props.filtered) {
    return (
      <EmptyState title={`No ${props.noun} match this filter.`}>
        <p>
          <a href={props.clear}>Clear the filter</a>
        </p>
      </EmptyState>
    );
  }
  return <EmptyState title={`No ${props.noun} yet.`}>{props.children}</EmptyState>;
}

/** The region outcome messages go to; htmx responses fill it out-of-band. */
export function Flash(props: { message?: { kind: "success" | "error"; text: string } | null; oob?: boolean }) {
  const m = props.message;
  return (
    <div id="flash" aria-live="polite" hx-swap-oob={props.oob ? "true" : undefined}>
      {m ? (
        <p class={`alert ${m.kind}`} role={m.kind === "error" ? "alert" : "status"}>
          {m.text}
        </p>
      ) : null}
    </div>
  );
}

// ---------------------------------------------------------------- forms

export type FieldErrors = Record<string, string>;

/** Form values as the user typed them, so an error page can show them again. */
export type FormValues = Record<string, string | string[] | undefined>;

export interface FormState {
  values: FormValues;
  errors: FieldErrors;
  /** An error that belongs to no single field. */
  formError?: string;
}

export const emptyForm = (values: FormValues = {}): FormState => ({ values, errors: {} });

export function FieldError(props: { errors: FieldErrors; name: string }) {
  const msg = props.errors[props.name];
  return msg ? (
    <span class="field-error" id={`err-${props.name}`} role="alert">
      {msg}
    </span>
  ) : null;
}

export function FormError(props: { form: FormState }) {
  return props.form.formError ? (
    <p class="alert error" role="alert">
      {props.form.formError}
    </p>
  ) : null;
}

export function Csrf(props: { auth: AuthInfo }) {
  return <input type="hidden" name="_csrf" value={props.auth.csrfToken ?? ""} />;
}

/** A one-button POST form: a plain form without JavaScript, confirmed first with htmx. */
export function PostButton(props: { action: string; confirm: string; label: string; auth: AuthInfo; class?: string; target?: string; swap?: string }) {
  return (
    <form method="post" action={props.action} hx-post={props.action} hx-confirm={props.confirm} hx-target={props.target} hx-swap={props.swap}>
      <Csrf auth={props.auth} />
      <button type="submit" class={props.class ?? "small"}>
        {props.label}
      </button>
    </form>
  );
}

/** First message per top-level field of a zod error. */
export function fieldErrors(err: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of err.issues) {
    const key = String(issue.path[0] ?? "_form");
    out[key] ??= issue.message;
  }
  return out;
}

/** The posted form as plain strings (and lists for repeated fields); {} for other bodies. */
export async function readForm(c: Ctx): Promise<{ one(name: string): string; all(name: string): string[]; values: FormValues }> {
  let data: FormData | undefined;
  const type = c.req.header("content-type") ?? "";
  if (type.includes("application/x-www-form-urlencoded") || type.includes("multipart/form-data")) {
    // formData() (not parseBody()) so repeated checkboxes survive the CSRF middleware's cached parse.
    data = await c.req.formData().catch(() => undefined);
  }
  const values: FormValues = {};
  const str = (v: FormDataEntryValue) => (typeof v === "string" ? v : "");
  data?.forEach((_, key) => {
    if (key === "_csrf" || key in values) return;
    const list = data!.getAll(key).map(str);
    values[key] = list.length > 1 ? list : list[0];
  });
  return {
    values,
    one: (name) => {
      const v = values[name];
      return (Array.isArray(v) ? v[0] : v) ?? "";
    },
    all: (name) => {
      const v = values[name];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    },
  };
}

export function valueOf(form: FormState, name: string): string {
  const v = form.values[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

// ---------------------------------------------------------------- htmx helpers

export const isHtmx = (c: Ctx) => c.req.header("hx-request") === "true" && !c.req.header("hx-history-restore-request");

/** True when htmx asks for just the element with this id (table refresh, filter, pager). */
export const wantsPartial = (c: Ctx, id: string) => isHtmx(c) && c.req.header("hx-target") === id;

/** The same URL answers with a page or a fragment, so caches must keep them apart. */
export function varyOnHtmx(c: Ctx) {
  c.header("Vary", "HX-Request, HX-Target");
}

/** Tells htmx to close open dialogs and fire refresh events (e.g. "tokens-changed"). */
export function hxTrigger(c: Ctx, ...events: string[]) {
  c.header("HX-Trigger", JSON.stringify(Object.fromEntries(events.map((e) => [e, true]))));
}

// ---------------------------------------------------------------- filter toolbar, pager

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

// ---------------------------------------------------------------- join commands and secrets

/** The hub URL agents should use, as the admin's browser sees it. */
export const hubUrlOf = (c: Ctx) => new URL(c.req.url).origin;

const fingerprints = new WeakMap<HubConfig, string | null>();

/**
 * The fingerprint agents pin for the hub's self-signed certificate; undefined over plain
 * HTTP or with an operator-supplied certificate (which agents verify normally).
 */
export function hubFingerprint(c: Ctx): string | undefined {
  const { config } = c.get("deps");
  if (config.http || config.tlsCert || new URL(c.req.url).protocol !== "https:") return undefined;
  if (!fingerprints.has(config)) {
    try {
      fingerprints.set(config, certificateFingerprint(readFileSync(path.join(config.dataDir, "hub-tls.crt"), "utf8")));
    } catch {
      fingerprints.set(config, null);
    }
  }
  return fingerprints.get(config) ?? undefined;
}

function CopyBlock(props: { id: string; text: string; label: string }) {
  return (
    <div class="copy-block">
      <div class="copy-head">
        <span class="muted">{props.label}</span>
        <button type="button" class="small" data-copy={`#${props.id}`}>
          Copy
        </button>
      </div>
      <pre id={props.id}>{props.text}</pre>
    </div>
  );
}

/** Ready-to-paste join commands; `idPrefix` keeps copy targets unique on the page. */
export function JoinCommands(props: { hubUrl: string; clientId: string; secret: string; fingerprint?: string; idPrefix: string }) {
  const cmds = joinCommands(props);
  return (
    <div class="join-commands">
      <CopyBlock id={`${props.idPrefix}-cli`} label="On the instance, with the agent running (certhub --agent):" text={cmds.cli} />
      <CopyBlock id={`${props.idPrefix}-curl`} label="Or with curl against the agent's local API:" text={cmds.curl} />
      <p class="muted small-print">
        The curl line assumes the agent runs as root (data dir /var/lib/certhub-agent); otherwise read local-api.token from
        ~/.local/share/certhub-agent. The hub URL is the one your browser uses — replace it if the instance reaches the hub by another
        address.
      </p>
    </div>
  );
}

/**
 * The one and only display of a new client secret. hx-history="false" keeps htmx from
 * snapshotting a page holding it into localStorage.
 */
export function SecretOnce(props: {
  title: string;
  clientId: string;
  secret: string;
  join?: { hubUrl: string; fingerprint?: string } | null;
  apiExample?: { hubUrl: string } | null;
}) {
  return (
    <section class="card secret-once" id="secret-once" hx-history="false" role="status" data-dismissable>
      <h2>“{props.title}” created — copy the secret now</h2>
      <p>
        <strong>This is the only time the secret is shown.</strong> The hub keeps only a hash of it. If it is lost, create a new key and
        revoke this one.
      </p>
      <dl class="facts">
        <dt>Client ID</dt>
        <dd class="copy-inline">
          <code id="new-client-id">{props.clientId}</code>
          <button type="button" class="small" data-copy="#new-client-id">
            Copy
          </button>
        </dd>
        <dt>Secret</dt>
        <dd class="copy-inline">
          <code id="new-client-secret">{props.secret}</code>
          <button type="button" class="small" data-copy="#new-client-secret">
            Copy
          </button>
        </dd>
      </dl>
      {props.join ? (
        <>
          <h3>Join an instance with this key</h3>
          <JoinCommands idPrefix="new-join" hubUrl={props.join.hubUrl} fingerprint={props.join.fingerprint} clientId={props.clientId} secret={props.secret} />
        </>
      ) : null}
      {props.apiExample ? (
        <>
          <h3>Use it with the JSON API</h3>
          <CopyBlock id="new-api-example" label="HTTP Basic with client id and secret:" text={`curl -u '${props.clientId}:${props.secret}' ${props.apiExample.hubUrl}/api/v1/instances`} />
        </>
      ) : null}
      <button type="button" class="dismiss" data-dismiss>
        I have copied it — hide the secret
      </button>
    </section>
  );
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
