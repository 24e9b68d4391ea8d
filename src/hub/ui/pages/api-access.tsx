// Settings › Security › API Access (/settings/api-access): API tokens and joining keys.
// "Add API Token" picks a principal, title, scoped role, optional group, expiry and max
// uses; the secret is shown once in the response that created it and never again.
// Issuing/revoking rules and auditing live in src/hub/tokens.ts (shared with API and CLI).
import { Hono, type Context } from "hono";
import { inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { listApiTokens, tokenStatus } from "../../../db/apiTokens";
import { findManagedInstancePrincipal, listPrincipals } from "../../../db/principals";
import { canWrite, listRoles, ROLE, ROLE_IDS, type RoleId } from "../../../db/roles";
import { instances } from "../../../db/schema";
import type { AuthInfo, HubEnv } from "../../context";
import { actorOf } from "../../middleware/auth";
import { changeTokenState, issueToken, TokenRuleError } from "../../tokens";
import { Csrf, emptyForm, EmptyState, FieldError, fieldErrors, Flash, FormError, type FormState, hubFingerprint, hubUrlOf, hxTrigger, isHtmx, pageOf, Pager, readForm, SecretOnce, StatusBadge, Time, valueOf, varyOnHtmx, wantsPartial } from "../components";
import { qs } from "../format";
import { Layout } from "../layout";

type Ctx = Context<HubEnv>;
type TokenRow = Awaited<ReturnType<typeof listApiTokens>>["rows"][number];
type Role = Awaited<ReturnType<typeof listRoles>>[number];
type PrincipalChoice = Awaited<ReturnType<typeof listPrincipals>>["rows"][number];

const PAGE_SIZE = 25;
const BASE = "/settings/api-access";
const TABLE_ID = "tokens-table";
const FORM_HOST_ID = "add-token-body";

const DONE: Record<string, string> = {
  revoked: "Token revoked. It no longer works, and instances joined with it are cut off.",
  retired: "Token retired. No new joins; instances already joined keep working.",
};

// ---------------------------------------------------------------- validation

/** Optional whole number typed into a text/number box. */
const optionalInt = (min: number, max: number, message: string) =>
  z
    .string()
    .trim()
    .refine((v) => v === "" || (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max), message)
    .transform((v) => (v === "" ? null : Number(v)));

const addTokenForm = z
  .object({
    principalId: z.string().trim().min(1, "Pick a security principal").max(64, "Pick a security principal"),
    title: z.string().trim().min(1, "Enter a title").max(100, "At most 100 characters"),
    role: z.enum(ROLE_IDS, { error: "Pick a scoped role" }),
    group: z.string().trim().max(100, "At most 100 characters"),
    expiresInDays: optionalInt(1, 3650, "Enter whole days between 1 and 3650, or leave it empty"),
    // A date means "valid through that day": the key expires at the end of it (UTC).
    expiresOn: z
      .string()
      .trim()
      .refine((v) => v === "" || (/^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`))), "Enter a date as YYYY-MM-DD, or leave it empty")
      .transform((v) => (v === "" ? null : Date.parse(`${v}T00:00:00Z`) + 86_400_000))
      .refine((t) => t === null || t > Date.now(), "Pick a date from today on"),
    maxUses: optionalInt(1, 1_000_000, "Enter a whole number from 1, or leave it empty for unlimited"),
  })
  .superRefine((v, ctx) => {
    if (v.expiresInDays !== null && v.expiresOn !== null) {
      ctx.addIssue({ code: "custom", path: ["expiresOn"], message: "Give either a number of days or a date, not both" });
    }
  });

// ---------------------------------------------------------------- list

interface Filter {
  q?: string;
  role?: RoleId;
  page: number;
}

function readFilter(c: Ctx): Filter {
  const q = (c.req.query("q") ?? "").trim().slice(0, 100) || undefined;
  const role = c.req.query("role");
  return { q, role: (ROLE_IDS as string[]).includes(role ?? "") ? (role as RoleId) : undefined, page: pageOf(c) };
}

const listUrl = (f: Filter, page = f.page) => `${BASE}${qs({ q: f.q, role: f.role, page })}`;

async function loadList(c: Ctx, f: Filter) {
  const { db } = c.get("deps");
  const [list, roles] = await Promise.all([listApiTokens(db, { q: f.q, roleId: f.role, offset: (f.page - 1) * PAGE_SIZE, limit: PAGE_SIZE }), listRoles(db)]);
  // How many instances joined with each listed key: the cost of revoking it.
  const ids = list.rows.map((r) => r.id);
  const counts = ids.length
    ? await db
        .select({ keyId: instances.joiningKeyId, n: sql<number>`count(*)` })
        .from(instances)
        .where(inArray(instances.joiningKeyId, ids))
        .groupBy(instances.joiningKeyId)
    : [];
  const joined = new Map(counts.map((r) => [r.keyId ?? "", Number(r.n)]));
  return { ...list, roles, joined };
}

const roleTitle = (roles: Role[], id: string) => roles.find((r) => r.id === id)?.title ?? id;

function TokenActions(props: { t: TokenRow; joined: number; auth: AuthInfo }) {
  const { t, joined } = props;
  const status = tokenStatus(t);
  if (status === "revoked") return <span class="muted">—</span>;
  const action = (name: "retire" | "revoke", label: string, confirm: string, danger = false) => (
    <form method="post" action={`${BASE}/${t.id}/${name}`} hx-post={`${BASE}/${t.id}/${name}`} hx-confirm={confirm} hx-target="#flash" hx-swap="outerHTML">
      <Csrf auth={props.auth} />
      <button type="submit" class={danger ? "small danger" : "small"}>
        {label}
      </button>
    </form>
  );
  const cut = joined === 1 ? "the 1 instance that joined with it" : `every instance that joined with it (${joined} now)`;
  return (
    <div class="actions">
      {t.state === "active" && status !== "expired" ? action("retire", "Retire", `Retire “${t.title}”? No new instance can join with it; instances already joined keep working.`) : null}
      {action("revoke", "Revoke", `Revoke “${t.title}”? The key stops working at once and ${cut} is cut off from the hub. This cannot be undone.`, true)}
    </div>
  );
}

function TokensTable(props: { data: Awaited<ReturnType<typeof loadList>>; filter: Filter; auth: AuthInfo }) {
  const { data, filter, auth } = props;
  const admin = canWrite(auth.roles);
  return (
    // Reloads itself (same filter and page) after a create, retire or revoke.
    <div id={TABLE_ID} hx-get={listUrl(filter)} hx-trigger="tokens-changed from:body" hx-target="this" hx-swap="outerHTML">
      {data.rows.length === 0 ? (
        data.total > 0 ? (
          <EmptyState title="This page is past the end of the list.">
            <p>
              <a href={listUrl(filter, 1)}>Go to the first page</a>
            </p>
          </EmptyState>
        ) : filter.q || filter.role ? (
          <EmptyState title="No API tokens match this filter.">
            <p>
              <a href={BASE}>Clear the filter</a>
            </p>
          </EmptyState>
        ) : (
          <EmptyState title="No API tokens yet.">
            <p>Instances need a joining key (scoped role “Management Hub Managed Instance”) to join this hub. Use “Add API Token” to create one.</p>
          </EmptyState>
        )
      ) : (
        <table id="tokens">
          <thead>
            <tr>
              <th>Title</th>
              <th>Client ID</th>
              <th>Principal</th>
              <th>Scoped role</th>
              <th>Status</th>
              <th>Expires</th>
              <th>Uses</th>
              <th>Last used</th>
              <th>Instances</th>
              {admin ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {data.rows.map((t) => {
              const status = tokenStatus(t);
              const joined = data.joined.get(t.id) ?? 0;
              return (
                <tr data-token-id={t.id} data-client-id={t.clientId}>
                  <td>
                    {t.title}
                    {t.groupName ? <div class="muted">group {t.groupName}</div> : null}
                  </td>
                  <td class="mono">{t.clientId}</td>
                  <td>{t.principalTitle}</td>
                  <td>{roleTitle(data.roles, t.roleId)}</td>
                  <td>
                    <StatusBadge status={status} />
                  </td>
                  <td>
                    <Time ts={t.expiresAt} never="never" />
                  </td>
                  <td class="nowrap">
                    {t.useCount} / {t.maxUses ?? "∞"}
                  </td>
                  <td>
                    <Time ts={t.lastUsedAt} />
                    {t.lastUsedIp ? <div class="muted mono">{t.lastUsedIp}</div> : null}
                    {t.lastInstanceId ? (
                      <div>
                        <a href={`/instances/${t.lastInstanceId}`} class="mono">
                          {t.lastInstanceId}
                        </a>
                      </div>
                    ) : null}
                  </td>
                  <td>{joined ? <a href={`/instances${qs({ q: t.clientId })}`}>{joined}</a> : <span class="muted">0</span>}</td>
                  {admin ? (
                    <td>
                      <TokenActions t={t} joined={joined} auth={auth} />
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager page={filter.page} pageSize={PAGE_SIZE} total={data.total} href={(p) => listUrl(filter, p)} target={TABLE_ID} />
    </div>
  );
}

// ---------------------------------------------------------------- add form

interface FormChoices {
  principals: PrincipalChoice[];
  roles: Role[];
  defaultPrincipalId?: string;
}

async function loadChoices(c: Ctx): Promise<FormChoices> {
  const { db } = c.get("deps");
  const [p, roles, managed] = await Promise.all([listPrincipals(db, { limit: 200 }), listRoles(db), findManagedInstancePrincipal(db)]);
  return { principals: p.rows.filter((r) => !r.disabled), roles, defaultPrincipalId: managed?.id };
}

function AddTokenForm(props: { form: FormState; choices: FormChoices; auth: AuthInfo }) {
  const { form, choices } = props;
  const v = (n: string) => valueOf(form, n);
  const principalId = v("principalId") || choices.defaultPrincipalId || "";
  const role = v("role") || ROLE.managedInstance;
  const invalid = (n: string) => (form.errors[n] ? "true" : undefined);
  return (
    <form method="post" action={BASE} hx-post={BASE} hx-target="closest .form-host" hx-swap="innerHTML" novalidate>
      <h2>Add API Token</h2>
      <FormError form={form} />
      <Csrf auth={props.auth} />
      <label>
        Security principal
        <select name="principalId" aria-invalid={invalid("principalId")}>
          {choices.principals.map((p) => (
            <option value={p.id} selected={p.id === principalId}>
              {p.title} ({p.type === "user" ? "User" : "Application/Service"}
              {p.roles.length ? ` · ${p.roles.map((r) => roleTitle(choices.roles, r)).join(", ")}` : " · no role"})
            </option>
          ))}
        </select>
        <span class="hint">The token acts as this principal, which must hold the scoped role.</span>
        <FieldError errors={form.errors} name="principalId" />
      </label>
      <div class="form-row">
        <label>
          Title
          <input name="title" value={v("title")} placeholder="Instance Joining Key" maxlength={100} aria-invalid={invalid("title")} />
          <FieldError errors={form.errors} name="title" />
        </label>
        <label>
          Scoped role
          <select name="role" aria-invalid={invalid("role")}>
            {choices.roles.map((r) => (
              <option value={r.id} selected={r.id === role}>
                {r.title}
              </option>
            ))}
          </select>
          <span class="hint">“Management Hub Managed Instance” makes a joining key; the others grant JSON API access.</span>
          <FieldError errors={form.errors} name="role" />
        </label>
      </div>
      <label>
        Group / organisation <span class="muted">(optional)</span>
        <input name="group" value={v("group")} maxlength={100} placeholder="e.g. customer-a" aria-invalid={invalid("group")} />
        <span class="hint">Instances joined with this key are tagged with it; revoking the key cuts off just that group.</span>
        <FieldError errors={form.errors} name="group" />
      </label>
      <div class="form-row">
        <label>
          Expires in (days) <span class="muted">(optional)</span>
          <input name="expiresInDays" type="number" min={1} max={3650} value={v("expiresInDays")} aria-invalid={invalid("expiresInDays")} />
          <FieldError errors={form.errors} name="expiresInDays" />
        </label>
        <label>
          or valid through (date, UTC)
          <input name="expiresOn" type="date" value={v("expiresOn")} aria-invalid={invalid("expiresOn")} />
          <FieldError errors={form.errors} name="expiresOn" />
        </label>
        <label>
          Max uses <span class="muted">(optional)</span>
          <input name="maxUses" type="number" min={1} value={v("maxUses")} placeholder="unlimited" aria-invalid={invalid("maxUses")} />
          <FieldError errors={form.errors} name="maxUses" />
        </label>
      </div>
      <p class="muted">Leave expiry and max uses empty for a key that works until retired or revoked. Each join (or API request) counts as one use.</p>
      <div class="dialog-actions">
        <a href={BASE} class="button" data-close>
          Cancel
        </a>
        <button type="submit" class="primary">
          Add
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------- pages

type Created = Awaited<ReturnType<typeof issueToken>>;

function CreatedPanel(props: { c: Ctx; created: Created }) {
  const { c, created } = props;
  const hubUrl = hubUrlOf(c);
  const joining = created.role === ROLE.managedInstance;
  return (
    <SecretOnce
      title={created.title}
      clientId={created.clientId}
      secret={created.secret}
      join={joining ? { hubUrl, fingerprint: hubFingerprint(c) } : null}
      apiExample={joining ? null : { hubUrl }}
    />
  );
}

function ApiAccessPage(props: {
  c: Ctx;
  filter: Filter;
  data: Awaited<ReturnType<typeof loadList>>;
  choices: FormChoices;
  add: FormState;
  addOpen?: boolean;
  created?: Created;
  flash?: Parameters<typeof Flash>[0]["message"];
}) {
  const { c, filter } = props;
  const auth = c.get("auth");
  const admin = canWrite(auth.roles);
  return (
    <Layout title="Settings › Security › API Access" auth={auth} active="api-access">
      <Flash message={props.flash} />
      <div id="token-created">{props.created ? <CreatedPanel c={c} created={props.created} /> : null}</div>
      <p class="muted">
        API tokens are a client ID and secret owned by a security principal and scoped to one of its roles. Joining keys (role “Management Hub
        Managed Instance”) let instances join; administrator and read-only tokens use the JSON API with HTTP Basic. Retire a key to stop new
        joins while joined instances keep working; revoke it to cut off the key and every instance joined with it.
      </p>
      <form
        method="get"
        action={BASE}
        class="toolbar"
        hx-get={BASE}
        hx-target={`#${TABLE_ID}`}
        hx-swap="outerHTML"
        hx-push-url="true"
        hx-trigger="submit, input changed delay:300ms from:find input, change from:find select"
      >
        <input type="search" name="q" value={filter.q ?? ""} placeholder="Title, client ID or group" aria-label="Search" maxlength={100} />
        <select name="role" aria-label="Scoped role">
          <option value="">All roles</option>
          {props.data.roles.map((r) => (
            <option value={r.id} selected={filter.role === r.id}>
              {r.title}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
        <span class="spacer"></span>
        {admin ? (
          <a href={`${BASE}?add=1`} class="button primary" data-open="#add-token">
            Add API Token
          </a>
        ) : (
          <span class="muted">Read-only access: you can view tokens but not change them.</span>
        )}
      </form>
      <TokensTable data={props.data} filter={filter} auth={auth} />
      {admin ? (
        <dialog id="add-token" open={props.addOpen} aria-label="Add API Token">
          <div class="form-host" id={FORM_HOST_ID}>
            <AddTokenForm form={props.add} choices={props.choices} auth={auth} />
          </div>
        </dialog>
      ) : null}
    </Layout>
  );
}

async function fullPage(c: Ctx, extra: { add?: FormState; addOpen?: boolean; created?: Created; flash?: Parameters<typeof Flash>[0]["message"] }, status: 200 | 201 | 422 = 200) {
  const filter = readFilter(c);
  const [data, choices] = await Promise.all([loadList(c, filter), loadChoices(c)]);
  return c.html(<ApiAccessPage c={c} filter={filter} data={data} choices={choices} add={extra.add ?? emptyForm()} {...extra} />, status);
}

/** Turns a rule the token service enforces into a message next to the field it concerns. */
function ruleToField(err: TokenRuleError): [string, string] {
  const m = err.message;
  const text = `${m[0].toUpperCase()}${m.slice(1)}.`;
  if (m.includes("does not hold")) return ["role", `${text} Use the roles icon on Security › Users, or pick another principal.`];
  if (m.includes("expiry")) return ["expiresOn", text];
  return ["principalId", text];
}

async function changeState(c: Ctx, state: "revoked" | "retired") {
  const { db, fleet } = c.get("deps");
  const t = await changeTokenState(db, c.req.param("id") ?? "", state, actorOf(c));
  const done = state === "revoked" ? "revoked" : "retired";
  if (t) fleet.invalidateKey(t.id); // wakes and cuts off instances joined with a revoked key
  const message = t ? { kind: "success" as const, text: `“${t.title}”: ${DONE[done]}` } : { kind: "error" as const, text: "No such token." };
  if (isHtmx(c)) {
    hxTrigger(c, "tokens-changed");
    return c.html(<Flash message={message} />, t ? 200 : 404);
  }
  return t ? c.redirect(`${BASE}?done=${done}`, 303) : c.redirect(BASE, 303);
}

export const apiAccessPages = new Hono<HubEnv>()
  .get(BASE, async (c) => {
    varyOnHtmx(c);
    if (wantsPartial(c, TABLE_ID)) {
      const filter = readFilter(c);
      return c.html(<TokensTable data={await loadList(c, filter)} filter={filter} auth={c.get("auth")} />);
    }
    const done = DONE[c.req.query("done") ?? ""];
    return fullPage(c, { addOpen: c.req.query("add") === "1", flash: done ? { kind: "success", text: done } : null });
  })

  .post(BASE, async (c) => {
    const auth = c.get("auth");
    const f = await readForm(c);
    const form: FormState = { values: f.values, errors: {} };
    const r = addTokenForm.safeParse({
      principalId: f.one("principalId"),
      title: f.one("title"),
      role: f.one("role"),
      group: f.one("group"),
      expiresInDays: f.one("expiresInDays"),
      expiresOn: f.one("expiresOn"),
      maxUses: f.one("maxUses"),
    });
    if (r.success) {
      const v = r.data;
      try {
        const created = await issueToken(
          c.get("deps").db,
          {
            principalId: v.principalId,
            title: v.title,
            role: v.role,
            group: v.group || null,
            expiresAt: v.expiresOn ?? (v.expiresInDays ? Date.now() + v.expiresInDays * 86_400_000 : null),
            maxUses: v.maxUses,
          },
          actorOf(c),
        );
        // The response holding the secret must not be stored anywhere.
        c.header("Cache-Control", "no-store");
        if (!isHtmx(c)) return fullPage(c, { created }, 201);
        hxTrigger(c, "close-dialog", "tokens-changed");
        return c.html(
          <>
            <AddTokenForm form={emptyForm()} choices={await loadChoices(c)} auth={auth} />
            <div id="token-created" hx-swap-oob="true">
              <CreatedPanel c={c} created={created} />
            </div>
            <Flash oob message={{ kind: "success", text: `API token “${created.title}” created.` }} />
          </>,
          201,
        );
      } catch (err) {
        if (err instanceof TokenRuleError) {
          const [field, message] = ruleToField(err);
          form.errors[field] = message;
        } else if (err instanceof z.ZodError) form.formError = err.issues[0]?.message ?? "Invalid input";
        else throw err;
      }
    } else form.errors = fieldErrors(r.error);
    if (isHtmx(c)) return c.html(<AddTokenForm form={form} choices={await loadChoices(c)} auth={auth} />, 422);
    return fullPage(c, { add: form, addOpen: true }, 422);
  })

  .post(`${BASE}/:id/revoke`, (c) => changeState(c, "revoked"))
  .post(`${BASE}/:id/retire`, (c) => changeState(c, "retired"));

