// Security › Users (/settings/users): security principals of type User or
// Application/Service, the seed's "Add New Security Principal" dialog, edit/disable,
// the People+ roles dialog and password resets. The rules (self-lockout, audit, ending
// sessions on disable) live in src/hub/principals.ts, shared with the JSON API.
import { Hono, type Context } from "hono";
import type { Child } from "hono/jsx";
import { z } from "zod";
import { getPrincipal, listPrincipals, type PrincipalType } from "../../../db/principals";
import { canWrite, listRoles, ROLE, ROLE_IDS, type RoleId } from "../../../db/roles";
import type { AuthInfo, HubEnv } from "../../context";
import { actorOf, requireAdmin } from "../../middleware/auth";
import { addPrincipal, assignRoles, editPrincipal, endSessions, MIN_PASSWORD_LENGTH, PrincipalRuleError, resetPassword } from "../../principals";
import { Csrf, emptyForm, EmptyState, FieldError, fieldErrors, Flash, FormError, type FormState, hxTrigger, isHtmx, pageOf, Pager, PeoplePlusIcon, readForm, StatusBadge, Time, valueOf, varyOnHtmx, wantsPartial } from "../components";
import { qs } from "../format";
import { Layout } from "../layout";

type Ctx = Context<HubEnv>;
type Principal = Awaited<ReturnType<typeof listPrincipals>>["rows"][number];
type Role = Awaited<ReturnType<typeof listRoles>>[number];

const PAGE_SIZE = 25;
const BASE = "/settings/users";
const TABLE_ID = "principals-table";
const DIALOG_BODY_ID = "principal-dialog-body";
const TYPE_LABEL: Record<PrincipalType, string> = { user: "User", service: "Application/Service" };

const DONE: Record<string, string> = {
  created: "Security principal created.",
  updated: "Changes saved.",
  roles: "Roles saved.",
  password: "Password reset. The user's sessions have ended.",
  sessions: "Signed out everywhere: every session of that user has ended.",
};

// ---------------------------------------------------------------- validation

const tooLong = (n: number) => `At most ${n} characters`;
const emailField = z
  .string()
  .trim()
  .max(200, tooLong(200))
  .refine((v) => v === "" || z.email().safeParse(v).success, "Enter a valid email address, or leave it empty")
  .transform((v) => v || null);

const addUserForm = z.object({
  username: z
    .string()
    .trim()
    .min(1, "Enter a username")
    .max(64, tooLong(64))
    .regex(/^[A-Za-z0-9._@-]+$/, "Use letters, digits and . _ @ - only"),
  password: z.string().min(MIN_PASSWORD_LENGTH, `At least ${MIN_PASSWORD_LENGTH} characters`).max(1000, tooLong(1000)),
  title: z.string().trim().max(100, tooLong(100)),
  email: emailField,
  role: z.enum([ROLE.readonly, ROLE.administrator], { error: "Pick a role" }),
});

const addServiceForm = z.object({
  title: z.string().trim().min(1, "Enter a title").max(100, tooLong(100)),
  description: z.string().trim().max(500, tooLong(500)),
});

const editForm = z.object({
  title: z.string().trim().min(1, "Enter a title").max(100, tooLong(100)),
  description: z.string().trim().max(500, tooLong(500)),
  email: emailField,
  disabled: z.boolean(),
});

const rolesForm = z.array(z.enum(ROLE_IDS, { error: "Unknown role" })).max(ROLE_IDS.length);

const passwordForm = z
  .object({
    password: z.string().min(MIN_PASSWORD_LENGTH, `At least ${MIN_PASSWORD_LENGTH} characters`).max(1000, tooLong(1000)),
    confirm: z.string(),
  })
  .refine((v) => v.password === v.confirm, { message: "The two passwords differ", path: ["confirm"] });

// ---------------------------------------------------------------- list

interface Filter {
  q?: string;
  type?: PrincipalType;
  page: number;
}

function readFilter(c: Ctx): Filter {
  const q = (c.req.query("q") ?? "").trim().slice(0, 100) || undefined;
  const t = c.req.query("type");
  return { q, type: t === "user" || t === "service" ? t : undefined, page: pageOf(c) };
}

const listUrl = (f: Filter, page = f.page) => `${BASE}${qs({ q: f.q, type: f.type, page })}`;

async function loadList(c: Ctx, f: Filter) {
  const { db } = c.get("deps");
  const [list, roles] = await Promise.all([
    listPrincipals(db, { q: f.q, type: f.type, offset: (f.page - 1) * PAGE_SIZE, limit: PAGE_SIZE }),
    listRoles(db),
  ]);
  return { ...list, roles };
}

function RoleNames(props: { ids: RoleId[]; roles: Role[] }) {
  if (props.ids.length === 0) return <span class="muted">no role</span>;
  const title = (id: string) => props.roles.find((r) => r.id === id)?.title ?? id;
  return (
    <>
      {props.ids.map((id) => (
        <span class="badge role">{title(id)}</span>
      ))}
    </>
  );
}

/** A link that loads a form into the shared dialog (or opens it as a page without JS). */
function DialogLink(props: { href: string; label: string; title?: string; children?: Child; class?: string }) {
  return (
    <a
      href={props.href}
      class={props.class ?? "button small"}
      title={props.title}
      aria-label={props.title ?? props.label}
      hx-get={props.href}
      hx-target={`#${DIALOG_BODY_ID}`}
      hx-swap="innerHTML"
      data-open="#principal-dialog"
    >
      {props.children ?? props.label}
    </a>
  );
}

function PrincipalsTable(props: { rows: Principal[]; total: number; roles: Role[]; filter: Filter; auth: AuthInfo }) {
  const { rows, filter, auth } = props;
  const admin = canWrite(auth.roles);
  return (
    // Reloads itself (same filter and page) when a dialog reports a change.
    <div id={TABLE_ID} hx-get={listUrl(filter)} hx-trigger="principals-changed from:body" hx-target="this" hx-swap="outerHTML">
      {rows.length === 0 ? (
        props.total > 0 ? (
          <EmptyState title="This page is past the end of the list.">
            <p>
              <a href={listUrl(filter, 1)}>Go to the first page</a>
            </p>
          </EmptyState>
        ) : filter.q || filter.type ? (
          <EmptyState title="No security principals match this filter.">
            <p>
              <a href={BASE}>Clear the filter</a>
            </p>
          </EmptyState>
        ) : (
          <EmptyState title="No security principals yet." />
        )
      ) : (
        <table id="principals">
          <thead>
            <tr>
              <th>Type</th>
              <th>Title</th>
              <th>Username</th>
              <th>Roles</th>
              <th>Status</th>
              <th>Last sign-in</th>
              {admin ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr data-principal-id={p.id}>
                <td>{TYPE_LABEL[p.type]}</td>
                <td>
                  {p.title}
                  {p.id === auth.principalId ? <span class="badge"> you</span> : null}
                  {p.description ? <div class="muted">{p.description}</div> : null}
                  <div class="muted mono">{p.id}</div>
                </td>
                <td>{p.username ? <span class="mono">{p.username}</span> : <span class="muted">—</span>}</td>
                <td>
                  <RoleNames ids={p.roles} roles={props.roles} />
                </td>
                <td>{p.disabled ? <StatusBadge status="disabled" /> : <StatusBadge status="active" label="enabled" />}</td>
                <td>{p.type === "user" ? <Time ts={p.lastLoginAt} /> : <span class="muted">—</span>}</td>
                {admin ? (
                  <td>
                    <div class="actions">
                      <DialogLink href={`${BASE}/${p.id}/edit`} label="Edit" title={`Edit ${p.title}`} />
                      <DialogLink href={`${BASE}/${p.id}/roles`} label="Roles" title={`Roles of ${p.title}`} class="button small icon-button">
                        <PeoplePlusIcon />
                      </DialogLink>
                      {p.type === "user" ? <DialogLink href={`${BASE}/${p.id}/password`} label="Reset password" title={`Reset the password of ${p.title}`} /> : null}
                      {p.type === "user" ? (
                        <form method="post" action={`${BASE}/${p.id}/sessions/revoke`} hx-post={`${BASE}/${p.id}/sessions/revoke`} hx-confirm={`End every session of ${p.title}? They will have to sign in again.`}>
                          <Csrf auth={props.auth} />
                          <button type="submit" class="small">Sign out everywhere</button>
                        </form>
                      ) : null}
                    </div>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={filter.page} pageSize={PAGE_SIZE} total={props.total} href={(p) => listUrl(filter, p)} target={TABLE_ID} />
    </div>
  );
}

// ---------------------------------------------------------------- forms

function Actions(props: { submit: string }) {
  return (
    <div class="dialog-actions">
      <a href={BASE} class="button" data-close>
        Cancel
      </a>
      <button type="submit" class="primary">
        {props.submit}
      </button>
    </div>
  );
}

function AddForm(props: { form: FormState; auth: AuthInfo }) {
  const { form } = props;
  const type = valueOf(form, "type") === "service" ? "service" : "user";
  const v = (n: string) => valueOf(form, n);
  return (
    <form method="post" action={BASE} hx-post={BASE} hx-target="closest .form-host" hx-swap="innerHTML" class="principal-form" novalidate>
      <h2>Add New Security Principal</h2>
      <FormError form={form} />
      <Csrf auth={props.auth} />
      <fieldset class="choice">
        <legend>Type</legend>
        <label>
          <input type="radio" name="type" value="user" checked={type === "user"} /> User <span class="muted">— a person who signs in</span>
        </label>
        <label>
          <input type="radio" name="type" value="service" checked={type === "service"} /> Application/Service{" "}
          <span class="muted">— holds API tokens, e.g. managed instances</span>
        </label>
        <FieldError errors={form.errors} name="type" />
      </fieldset>
      <div class="only-user">
        <div class="form-row">
          <label>
            Username
            <input name="username" autocomplete="off" value={v("username")} maxlength={64} aria-invalid={form.errors.username ? "true" : undefined} />
            <FieldError errors={form.errors} name="username" />
          </label>
          <label>
            Initial password
            <input name="password" type="password" autocomplete="new-password" minlength={MIN_PASSWORD_LENGTH} aria-invalid={form.errors.password ? "true" : undefined} />
            <span class="hint">At least {MIN_PASSWORD_LENGTH} characters.</span>
            <FieldError errors={form.errors} name="password" />
          </label>
        </div>
        <div class="form-row">
          <label>
            Email <span class="muted">(optional)</span>
            <input name="email" type="email" value={v("email")} />
            <FieldError errors={form.errors} name="email" />
          </label>
          <label>
            Role
            <select name="role">
              <option value={ROLE.readonly} selected={v("role") !== ROLE.administrator}>
                Read-only Viewer
              </option>
              <option value={ROLE.administrator} selected={v("role") === ROLE.administrator}>
                Administrator
              </option>
            </select>
            <FieldError errors={form.errors} name="role" />
          </label>
        </div>
      </div>
      <label>
        Title <span class="muted only-user">(optional; defaults to the username)</span>
        <input name="title" value={v("title")} maxlength={100} aria-invalid={form.errors.title ? "true" : undefined} />
        <FieldError errors={form.errors} name="title" />
      </label>
      <label class="only-service">
        Description <span class="muted">(optional)</span>
        <textarea name="description" rows={2} maxlength={500}>
          {v("description")}
        </textarea>
        <FieldError errors={form.errors} name="description" />
      </label>
      <p class="muted only-service">Assign its roles afterwards with the roles icon in the list, then create its API tokens under Security › API Access.</p>
      <Actions submit="Add" />
    </form>
  );
}

type Detail = NonNullable<Awaited<ReturnType<typeof getPrincipal>>>;

function EditForm(props: { p: Detail; form: FormState; auth: AuthInfo }) {
  const { p, form } = props;
  const url = `${BASE}/${p.id}`;
  const self = p.id === props.auth.principalId;
  const disabled = form.values.disabled !== undefined ? valueOf(form, "disabled") === "on" : p.disabled;
  return (
    <form method="post" action={url} hx-post={url} hx-target="closest .form-host" hx-swap="innerHTML" novalidate>
      <h2>
        Edit {TYPE_LABEL[p.type]} “{p.title}”
      </h2>
      {p.username ? (
        <p class="muted">
          Username <span class="mono">{p.username}</span>
        </p>
      ) : null}
      <FormError form={form} />
      <Csrf auth={props.auth} />
      <label>
        Title
        <input name="title" value={valueOf(form, "title")} maxlength={100} aria-invalid={form.errors.title ? "true" : undefined} />
        <FieldError errors={form.errors} name="title" />
      </label>
      <label>
        Description
        <textarea name="description" rows={2} maxlength={500}>
          {valueOf(form, "description")}
        </textarea>
        <FieldError errors={form.errors} name="description" />
      </label>
      <label>
        Email <span class="muted">(optional)</span>
        <input name="email" type="email" value={valueOf(form, "email")} />
        <FieldError errors={form.errors} name="email" />
      </label>
      <label class="check">
        <input type="checkbox" name="disabled" checked={disabled} disabled={self} /> Disabled
        <span class="hint">
          {self
            ? "You cannot disable your own account."
            : p.type === "user"
              ? "A disabled user cannot sign in; their open sessions end at once."
              : "A disabled principal's API tokens stop working at once."}
        </span>
        <FieldError errors={form.errors} name="disabled" />
      </label>
      <Actions submit="Save" />
    </form>
  );
}

function RolesForm(props: { p: Detail; roles: Role[]; form: FormState; auth: AuthInfo }) {
  const { p, form } = props;
  const url = `${BASE}/${p.id}/roles`;
  // Before the first post the principal's current roles; after a failed one what was ticked.
  const chosen: string[] = form.values.roles === undefined ? p.roles : ([] as string[]).concat(form.values.roles);
  return (
    <form method="post" action={url} hx-post={url} hx-target="closest .form-host" hx-swap="innerHTML">
      <h2>Roles of “{p.title}”</h2>
      <p class="muted">Tick the roles this principal holds. API tokens act with one of their principal's roles.</p>
      <FormError form={form} />
      <Csrf auth={props.auth} />
      <fieldset class="choice">
        <legend>Available roles</legend>
        {props.roles.map((r) => (
          <label>
            <input type="checkbox" name="roles" value={r.id} checked={chosen.includes(r.id)} /> {r.title}
            <span class="hint">{r.description}</span>
          </label>
        ))}
        <FieldError errors={form.errors} name="roles" />
      </fieldset>
      <Actions submit="Save" />
    </form>
  );
}

function PasswordForm(props: { p: Detail; form: FormState; auth: AuthInfo }) {
  const { p, form } = props;
  const url = `${BASE}/${p.id}/password`;
  return (
    <form method="post" action={url} hx-post={url} hx-target="closest .form-host" hx-swap="innerHTML" novalidate>
      <h2>Reset the password of “{p.username}”</h2>
      <p class="muted">
        The user's open sessions end at once{p.id === props.auth.principalId ? " — including yours: you will sign in again" : ""}.
      </p>
      <FormError form={form} />
      <Csrf auth={props.auth} />
      <input type="text" name="username" value={p.username ?? ""} autocomplete="username" hidden />
      <div class="form-row">
        <label>
          New password
          <input name="password" type="password" autocomplete="new-password" minlength={MIN_PASSWORD_LENGTH} aria-invalid={form.errors.password ? "true" : undefined} />
          <span class="hint">At least {MIN_PASSWORD_LENGTH} characters.</span>
          <FieldError errors={form.errors} name="password" />
        </label>
        <label>
          Repeat it
          <input name="confirm" type="password" autocomplete="new-password" aria-invalid={form.errors.confirm ? "true" : undefined} />
          <FieldError errors={form.errors} name="confirm" />
        </label>
      </div>
      <Actions submit="Reset password" />
    </form>
  );
}

// ---------------------------------------------------------------- pages and responses

function ListPage(props: {
  c: Ctx;
  filter: Filter;
  data: Awaited<ReturnType<typeof loadList>>;
  add: FormState;
  /** Render the add dialog already open (?add=1 without JavaScript, or after a failed plain post). */
  addOpen?: boolean;
  flash?: Parameters<typeof Flash>[0]["message"];
}) {
  const { c, filter, data } = props;
  const auth = c.get("auth");
  const admin = canWrite(auth.roles);
  return (
    <Layout title="Security › Users" auth={auth} active="users">
      <Flash message={props.flash} />
      <p class="muted">
        Users sign in to this hub; Applications/Services hold API tokens (joining keys for instances, or JSON API access). Roles decide what
        each may do.
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
        <input type="search" name="q" value={filter.q ?? ""} placeholder="Title, username or email" aria-label="Search" maxlength={100} />
        <select name="type" aria-label="Type">
          <option value="">All types</option>
          <option value="user" selected={filter.type === "user"}>
            Users
          </option>
          <option value="service" selected={filter.type === "service"}>
            Applications/Services
          </option>
        </select>
        <button type="submit">Filter</button>
        <span class="spacer"></span>
        {admin ? (
          <a href={`${BASE}?add=1`} class="button primary" data-open="#add-principal">
            Add New Security Principal
          </a>
        ) : (
          <span class="muted">Read-only access: you can view principals but not change them.</span>
        )}
      </form>
      <PrincipalsTable rows={data.rows} total={data.total} roles={data.roles} filter={filter} auth={auth} />
      {admin ? (
        <>
          {/* Opened by the button above; open from the start after a failed plain form post or ?add=1. */}
          <dialog id="add-principal" open={props.addOpen} aria-label="Add New Security Principal">
            <div class="form-host" id="add-principal-body">
              <AddForm form={props.add} auth={auth} />
            </div>
          </dialog>
          <dialog id="principal-dialog" aria-label="Security principal">
            <div class="form-host" id={DIALOG_BODY_ID} data-dialog-body>
              <p class="muted">Loading…</p>
            </div>
          </dialog>
        </>
      ) : null}
    </Layout>
  );
}

/** A form shown on its own page (no JavaScript, or a direct link). */
function FormPage(props: { c: Ctx; title: string; children: Child }) {
  const auth = props.c.get("auth");
  return (
    <Layout title={props.title} auth={auth} active="users">
      <p>
        <a href={BASE}>‹ Security › Users</a>
      </p>
      <div class="card form-host" id="principal-form-host">
        {props.children}
      </div>
    </Layout>
  );
}

/** A form fragment for htmx, or the form on its own page. */
function renderForm(c: Ctx, title: string, form: Child, status: 200 | 422 = 200) {
  if (isHtmx(c)) return c.html(<>{form}</>, status);
  return c.html(
    <FormPage c={c} title={title}>
      {form}
    </FormPage>,
    status,
  );
}

/**
 * After a successful change: inside the dialog, close it and refresh the table (plus a
 * flash message); elsewhere go back to the list.
 */
function afterChange(c: Ctx, done: keyof typeof DONE, body: Child = null) {
  if (isHtmx(c) && (c.req.header("hx-target") === DIALOG_BODY_ID || c.req.header("hx-target") === "add-principal-body")) {
    hxTrigger(c, "close-dialog", "principals-changed");
    return c.html(
      <>
        {body}
        <Flash oob message={{ kind: "success", text: DONE[done] }} />
      </>,
    );
  }
  const to = `${BASE}?done=${done}`;
  if (isHtmx(c)) {
    c.header("HX-Redirect", to);
    return c.body(null, 204);
  }
  return c.redirect(to, 303);
}

async function principalOr404(c: Ctx) {
  const p = await getPrincipal(c.get("deps").db, c.req.param("id") ?? "");
  if (!p) return { p: undefined, res: c.html(<p class="alert error">No such security principal. It may have been removed.</p>, 404) };
  return { p, res: undefined };
}

const detailValues = (p: Detail) => ({ title: p.title, description: p.description, email: p.email ?? "" });

export const usersPages = new Hono<HubEnv>()
  .get(BASE, async (c) => {
    const filter = readFilter(c);
    const data = await loadList(c, filter);
    varyOnHtmx(c);
    if (wantsPartial(c, TABLE_ID)) {
      return c.html(<PrincipalsTable rows={data.rows} total={data.total} roles={data.roles} filter={filter} auth={c.get("auth")} />);
    }
    const done = DONE[c.req.query("done") ?? ""];
    return c.html(
      <ListPage c={c} filter={filter} data={data} add={emptyForm()} addOpen={c.req.query("add") === "1"} flash={done ? { kind: "success", text: done } : null} />,
    );
  })

  .post(BASE, async (c) => {
    const auth = c.get("auth");
    const { db } = c.get("deps");
    const f = await readForm(c);
    const form: FormState = { values: { ...f.values, password: undefined }, errors: {} };
    const type = f.one("type") || "user";
    let input: Parameters<typeof addPrincipal>[1] | undefined;
    if (type === "user") {
      const r = addUserForm.safeParse({ username: f.one("username"), password: f.one("password"), title: f.one("title"), email: f.one("email"), role: f.one("role") || ROLE.readonly });
      if (r.success) input = { type: "user", username: r.data.username, password: r.data.password, title: r.data.title || undefined, email: r.data.email, roles: [r.data.role] };
      else form.errors = fieldErrors(r.error);
    } else if (type === "service") {
      const r = addServiceForm.safeParse({ title: f.one("title"), description: f.one("description") });
      if (r.success) input = { type: "service", title: r.data.title, description: r.data.description, roles: [] };
      else form.errors = fieldErrors(r.error);
    } else {
      form.errors.type = "Pick User or Application/Service";
    }
    if (input) {
      try {
        await addPrincipal(db, input, actorOf(c));
        return afterChange(c, "created", <AddForm form={emptyForm()} auth={auth} />);
      } catch (err) {
        if (!(err instanceof PrincipalRuleError || err instanceof z.ZodError)) throw err;
        if (err instanceof PrincipalRuleError && err.message.includes("username")) form.errors.username = "This username is taken";
        else form.formError = err instanceof z.ZodError ? (err.issues[0]?.message ?? "Invalid input") : err.message;
      }
    }
    // Re-show the form with the errors and the values entered (never the password).
    if (isHtmx(c)) return c.html(<AddForm form={form} auth={auth} />, 422);
    const filter = readFilter(c);
    return c.html(<ListPage c={c} filter={filter} data={await loadList(c, filter)} add={form} addOpen />, 422);
  })

  .get(`${BASE}/:id/edit`, requireAdmin, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    return renderForm(c, `Edit “${p.title}”`, <EditForm p={p} form={emptyForm(detailValues(p))} auth={c.get("auth")} />);
  })

  .post(`${BASE}/:id`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    const f = await readForm(c);
    const self = p.id === c.get("auth").principalId;
    // A disabled checkbox is not posted; keep the current state for your own account.
    const values = { ...f.values, disabled: self ? (p.disabled ? "on" : "") : f.one("disabled") };
    const form: FormState = { values, errors: {} };
    const r = editForm.safeParse({ title: f.one("title"), description: f.one("description"), email: f.one("email"), disabled: values.disabled === "on" });
    if (r.success) {
      try {
        await editPrincipal(c.get("deps").db, p.id, r.data, actorOf(c));
        return afterChange(c, "updated");
      } catch (err) {
        if (!(err instanceof PrincipalRuleError)) throw err;
        form.errors.disabled = err.message;
      }
    } else form.errors = fieldErrors(r.error);
    return renderForm(c, `Edit “${p.title}”`, <EditForm p={p} form={form} auth={c.get("auth")} />, 422);
  })

  .get(`${BASE}/:id/roles`, requireAdmin, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    const roles = await listRoles(c.get("deps").db);
    return renderForm(c, `Roles of “${p.title}”`, <RolesForm p={p} roles={roles} form={emptyForm()} auth={c.get("auth")} />);
  })

  .post(`${BASE}/:id/roles`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    const f = await readForm(c);
    const roles = await listRoles(c.get("deps").db);
    const form: FormState = { values: { roles: f.all("roles") }, errors: {} };
    const r = rolesForm.safeParse(f.all("roles"));
    if (r.success) {
      try {
        await assignRoles(c.get("deps").db, p.id, [...new Set(r.data)], actorOf(c));
        return afterChange(c, "roles");
      } catch (err) {
        if (!(err instanceof PrincipalRuleError)) throw err;
        form.formError = `${err.message[0].toUpperCase()}${err.message.slice(1)}.`;
      }
    } else form.errors.roles = "Pick roles from the list";
    return renderForm(c, `Roles of “${p.title}”`, <RolesForm p={p} roles={roles} form={form} auth={c.get("auth")} />, 422);
  })

  .post(`${BASE}/:id/sessions/revoke`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    await endSessions(c.get("deps").db, p.id, actorOf(c));
    return afterChange(c, "sessions");
  })

  .get(`${BASE}/:id/password`, requireAdmin, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    if (p.type !== "user") return c.html(<p class="alert error">Applications/Services have no password; they use API tokens.</p>, 404);
    return renderForm(c, `Reset password`, <PasswordForm p={p} form={emptyForm()} auth={c.get("auth")} />);
  })

  .post(`${BASE}/:id/password`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    if (p.type !== "user") return c.html(<p class="alert error">Applications/Services have no password; they use API tokens.</p>, 404);
    const f = await readForm(c);
    const form: FormState = { values: {}, errors: {} };
    const r = passwordForm.safeParse({ password: f.one("password"), confirm: f.one("confirm") });
    if (r.success) {
      await resetPassword(c.get("deps").db, p.id, r.data.password, actorOf(c));
      return afterChange(c, "password");
    }
    form.errors = fieldErrors(r.error);
    return renderForm(c, `Reset password`, <PasswordForm p={p} form={form} auth={c.get("auth")} />, 422);
  });
