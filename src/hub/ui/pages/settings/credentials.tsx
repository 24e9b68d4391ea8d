// Settings › Stored Credentials (/settings/credentials): named secrets at the chosen scope
// (API token, username + password, password, TSIG key for RFC 2136). Write-only: the list
// shows type, title, scope, dates and which certificates / CA accounts use each, never the
// secret; a secret can be replaced, a credential moved to another scope (refused, on the scope
// field, while a certificate using it would lose access), and delete is refused (with the
// reason) while in use.
// Rules and sealing: src/hub/core/credentials.ts.
import { Hono } from "hono";
import { z } from "zod";
import { canWrite } from "../../../../db/roles";
import { CredentialSecretSchemas, type CredentialType } from "../../../../protocol/certificates";
import type { HubEnv } from "../../../context";
import { createCredential, CreateCredentialSchema, credentialView, deleteCredential, getCredential, listCredentials, updateCredentialRule } from "../../../core/credentials";
import { describeScope } from "../../../core/scope";
import { actorOf } from "../../../middleware/auth";
import { Csrf, EmptyState, FieldError, Flash, FormError, type FormState, isHtmx, readForm, Time, valueOf } from "../../components";
import { applyRuleError, zodFieldErrors } from "../../rule-errors";
import { readScope, ScopeFields, type ScopeState } from "../../scope-picker";
import { answerMove, type Moving, MoveScopeForm } from "./move-scope";
import { answerDelete, type Ctx, doneFlash, type FlashMessage, postedScope, redirectDone, SettingsPage } from "./page";

const PATH = "/settings/credentials";
const DONE = {
  created: "Credential stored. Its secret is encrypted and will not be shown again.",
  replaced: "Secret replaced. Instances whose certificates use it receive it at their next sync.",
  deleted: "Credential deleted.",
  moved: "Credential moved. Certificates using it keep it; its secret was not shown or re-entered.",
};
type Credential = ReturnType<typeof credentialView>;

/** The types an admin adds here (EAB credentials are made with their CA account). */
export const ADDABLE_TYPES = ["api-token", "username-password", "password", "tsig"] as const satisfies readonly CredentialType[];
export const TYPE_LABEL: Record<CredentialType, string> = {
  "api-token": "API token",
  "username-password": "Username + password",
  password: "Password",
  tsig: "TSIG key (RFC 2136 DNS updates)",
  eab: "External Account Binding",
};
const TSIG_ALGORITHMS = CredentialSecretSchemas.tsig.shape.algorithm.unwrap().options;

/** The secret's fields for a type: [name, label, kind]; field names are secret.<type>.<field>. */
const SECRET_FIELDS: Record<(typeof ADDABLE_TYPES)[number], [string, string, "text" | "password" | "algorithm"][]> = {
  "api-token": [["token", "Token", "password"]],
  "username-password": [
    ["username", "Username", "text"],
    ["password", "Password", "password"],
  ],
  password: [["password", "Password", "password"]],
  tsig: [
    ["name", "Key name", "text"],
    ["algorithm", "Algorithm", "algorithm"],
    ["secret", "Secret (base64)", "password"],
  ],
};

function SecretFields(props: { type: (typeof ADDABLE_TYPES)[number]; form: FormState }) {
  const { type, form } = props;
  return (
    <div class={`form-row secret-fields only-${type}`}>
      {SECRET_FIELDS[type].map(([field, label, kind]) => {
        const name = `secret.${type}.${field}`;
        const inv = form.errors[name] ? "true" : undefined;
        return (
          <label>
            {label}
            {kind === "algorithm" ? (
              <select name={name}>
                {TSIG_ALGORITHMS.map((a) => (
                  <option value={a} selected={(valueOf(form, name) || "hmac-sha256") === a}>
                    {a}
                  </option>
                ))}
              </select>
            ) : kind === "password" ? (
              <input name={name} type="password" autocomplete="new-password" aria-invalid={inv} />
            ) : (
              <input name={name} value={valueOf(form, name)} autocomplete="off" aria-invalid={inv} />
            )}
            <FieldError errors={form.errors} name={name} />
          </label>
        );
      })}
    </div>
  );
}

/** Reads and checks the secret of one type from a posted form; errors go on its fields. */
function readSecret(f: { one(name: string): string }, type: (typeof ADDABLE_TYPES)[number], form: FormState): Record<string, string> | undefined {
  const raw = Object.fromEntries(SECRET_FIELDS[type].map(([field]) => [field, field === "name" || field === "username" ? f.one(`secret.${type}.${field}`).trim() : f.one(`secret.${type}.${field}`)]));
  const r = CredentialSecretSchemas[type].strict().safeParse(raw);
  if (r.success) return r.data as Record<string, string>;
  Object.assign(form.errors, zodFieldErrors(r.error, `secret.${type}.`));
  return undefined;
}

/** Never keep typed secrets in a re-shown form. */
function withoutSecrets(values: FormState["values"]): FormState["values"] {
  const out: FormState["values"] = {};
  for (const [k, v] of Object.entries(values)) if (!/^secret\.[^.]+\.(token|password|secret)$/.test(k)) out[k] = v;
  return out;
}

export function AddCredentialForm(props: { c: Ctx; s: ScopeState; form: FormState }) {
  const { c, s, form } = props;
  const type = (ADDABLE_TYPES as readonly string[]).includes(valueOf(form, "type")) ? valueOf(form, "type") : "tsig";
  return (
    <div class="form-host card" id="add-credential">
      <form method="post" action={PATH} hx-post={PATH} hx-target="closest .form-host" hx-swap="outerHTML" class="credential-form" novalidate>
        <h2>Add a stored credential for {s.label}</h2>
        <FormError form={form} />
        <Csrf auth={c.get("auth")} />
        <ScopeFields scope={s.scope} />
        <label>
          Title
          <input name="title" value={valueOf(form, "title")} maxlength={200} placeholder="e.g. DNS update key for example.com" aria-invalid={form.errors.title ? "true" : undefined} />
          <FieldError errors={form.errors} name="title" />
        </label>
        <fieldset class="choice">
          <legend>Type</legend>
          {ADDABLE_TYPES.map((t) => (
            <label>
              <input type="radio" name="type" value={t} checked={type === t} /> {TYPE_LABEL[t]}
            </label>
          ))}
          <FieldError errors={form.errors} name="type" />
        </fieldset>
        {ADDABLE_TYPES.map((t) => (
          <SecretFields type={t} form={form} />
        ))}
        <p class="muted small-print">The secret is encrypted on the hub (AES-256-GCM) and sent only to instances whose certificates use it. No page or API shows it again.</p>
        <button type="submit" class="primary">
          Store credential
        </button>
      </form>
    </div>
  );
}

function ReplaceForm(props: { c: Ctx; s: ScopeState; cred: Credential; form?: FormState }) {
  const { c, s, cred } = props;
  const form = props.form ?? { values: {}, errors: {} };
  const type = cred.type as (typeof ADDABLE_TYPES)[number];
  if (!(ADDABLE_TYPES as readonly string[]).includes(type)) return <span class="muted">Change it with its CA account.</span>;
  const url = `${PATH}/${cred.id}/secret`;
  return (
    <details class="form-host replace-secret" open={!!props.form}>
      <summary>Replace secret</summary>
      <form method="post" action={url} hx-post={url} hx-target="closest .form-host" hx-swap="outerHTML" novalidate>
        <Csrf auth={c.get("auth")} />
        <ScopeFields scope={s.scope} />
        <FormError form={form} />
        <SecretFields type={type} form={form} />
        <button type="submit" class="small primary">
          Replace
        </button>
      </form>
    </details>
  );
}

function MoveCredentialForm(props: { c: Ctx; s: ScopeState; cred: Credential; form?: FormState }) {
  const { cred } = props;
  return (
    <MoveScopeForm
      c={props.c}
      s={props.s}
      action={`${PATH}/${cred.id}/scope`}
      current={{ scope: cred.scope, scopeId: cred.scopeId ?? "" }}
      form={props.form}
      hint="The secret moves with it (re-encrypted for the new scope). Refused while a certificate using it would be outside the new scope."
    />
  );
}

function CredentialsTable(props: { c: Ctx; s: ScopeState; rows: Credential[]; inherited?: boolean; moving?: Moving }) {
  const { c, s, rows } = props;
  const auth = c.get("auth");
  const write = canWrite(auth.roles) && !props.inherited;
  return (
    <table class="credentials">
      <thead>
        <tr>
          <th>Title</th>
          <th>Type</th>
          <th>Scope</th>
          <th>Created</th>
          <th>Updated</th>
          <th>Used by</th>
          {write ? <th>Actions</th> : null}
        </tr>
      </thead>
      <tbody>
        {rows.map((cred) => {
          const used = cred.usedBy.certificates.length + cred.usedBy.caAccounts.length;
          return (
            <tr data-credential-id={cred.id}>
              <td>
                {cred.title}
                <div class="muted mono">{cred.id}</div>
              </td>
              <td>{TYPE_LABEL[cred.type as CredentialType] ?? cred.type}</td>
              <td>{describeScope({ scope: cred.scope, scopeId: cred.scopeId ?? "" })}</td>
              <td>
                <Time ts={cred.createdAt} />
                {cred.createdBy ? <div class="muted">by {cred.createdBy}</div> : null}
              </td>
              <td>
                <Time ts={cred.updatedAt} />
              </td>
              <td>
                {used === 0 ? <span class="muted">nothing</span> : null}
                {cred.usedBy.certificates.slice(0, 5).map((u) => (
                  <div>
                    certificate <a href={`/certificates/${u.id}`}>{u.name}</a>
                  </div>
                ))}
                {cred.usedBy.certificates.length > 5 ? <div class="muted">and {cred.usedBy.certificates.length - 5} more certificates</div> : null}
                {cred.usedBy.caAccounts.map((a) => (
                  <div>CA account {a.title}</div>
                ))}
              </td>
              {write ? (
                <td>
                  <div class="actions">
                    <ReplaceForm c={c} s={s} cred={cred} />
                    <MoveCredentialForm c={c} s={s} cred={cred} form={props.moving?.id === cred.id ? props.moving.form : undefined} />
                    <form
                      method="post"
                      action={`${PATH}/${cred.id}/delete`}
                      hx-post={`${PATH}/${cred.id}/delete`}
                      hx-confirm={`Delete the credential “${cred.title}”? This cannot be undone.`}
                      hx-target="#flash"
                      hx-swap="outerHTML"
                    >
                      <Csrf auth={auth} />
                      <ScopeFields scope={s.scope} />
                      <button type="submit" class="small danger" title={used ? "In use: delete is refused until nothing uses it" : undefined}>
                        Delete
                      </button>
                    </form>
                  </div>
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

async function page(c: Ctx, s: ScopeState, opts: { form?: FormState; flash?: FlashMessage; moving?: Moving } = {}, status: 200 | 404 | 409 | 422 = 200) {
  const core = c.get("deps");
  const own = (await listCredentials(core, { scope: s.scope })).filter((x) => x.type !== "eab");
  let inherited: Credential[] = [];
  if (s.instance) inherited = (await listCredentials(core, { instance: s.instance })).filter((x) => x.type !== "eab" && !own.some((o) => o.id === x.id));
  else if (s.scope.scope === "group") inherited = (await listCredentials(core, { scope: { scope: "global", scopeId: "" } })).filter((x) => x.type !== "eab");
  const write = canWrite(c.get("auth").roles);
  return c.html(
    <SettingsPage c={c} title="Settings › Stored Credentials" active="credentials" path={PATH} s={s} flash={opts.flash ?? doneFlash(c, DONE)} intro="Named secrets that certificates use: TSIG keys for DNS updates, passwords for PFX files, tokens for webhooks. Write-only: after saving, the hub never shows a secret again.">
      <h2>Defined for {s.label}</h2>
      {own.length ? (
        <CredentialsTable c={c} s={s} rows={own} moving={opts.moving} />
      ) : (
        <EmptyState title={`No stored credential is defined for ${s.label}.`}>
          <p>Certificates need one for DNS-01 with RFC 2136 (a TSIG key) or a PFX export (a password).</p>
        </EmptyState>
      )}
      {inherited.length ? (
        <>
          <h2>Also available here, from wider scopes</h2>
          <CredentialsTable c={c} s={s} rows={inherited} inherited />
        </>
      ) : null}
      {write ? <AddCredentialForm c={c} s={s} form={opts.form ?? { values: {}, errors: {} }} /> : <p class="muted">Read-only access: you can view stored credentials (never their secrets) but not change them.</p>}
    </SettingsPage>,
    status,
  );
}

export const credentialPages = new Hono<HubEnv>()
  .get(PATH, async (c) => page(c, await readScope(c)))
  .post(PATH, async (c) => {
    const f = await readForm(c);
    const s = await readScope(c, postedScope(f));
    if (s.problem) return c.text(s.problem, 422);
    const form: FormState = { values: withoutSecrets(f.values), errors: {} };
    const type = f.one("type");
    if (!(ADDABLE_TYPES as readonly string[]).includes(type)) form.errors.type = "Pick a type.";
    const title = z.string().trim().min(1, "Enter a title.").max(200, "At most 200 characters.").safeParse(f.one("title"));
    if (!title.success) form.errors.title = title.error.issues[0].message;
    const secret = form.errors.type ? undefined : readSecret(f, type as (typeof ADDABLE_TYPES)[number], form);
    if (secret && title.success && !Object.keys(form.errors).length) {
      const input = CreateCredentialSchema.parse({ title: title.data, type, secret, scope: s.scope.scope, ...(s.scope.scopeId ? { scopeId: s.scope.scopeId } : {}) });
      try {
        await createCredential(c.get("deps"), actorOf(c), input);
        return redirectDone(c, PATH, s.scope, "created");
      } catch (err) {
        applyRuleError(form, err, (field) => field === "title" || field === "type");
      }
    }
    if (isHtmx(c)) return c.html(<AddCredentialForm c={c} s={s} form={form} />, 422);
    return page(c, s, { form }, 422);
  })
  .post(`${PATH}/:id/secret`, async (c) => {
    const f = await readForm(c);
    const s = await readScope(c, postedScope(f));
    const core = c.get("deps");
    let cred: Credential;
    try {
      cred = await getCredential(core, c.req.param("id"));
    } catch {
      return c.text("No such credential. It may have been deleted.", 404);
    }
    const form: FormState = { values: withoutSecrets(f.values), errors: {} };
    const type = cred.type as (typeof ADDABLE_TYPES)[number];
    if (!(ADDABLE_TYPES as readonly string[]).includes(type)) return c.text("This credential belongs to a CA account: change it there.", 409);
    const secret = readSecret(f, type, form);
    if (secret) {
      try {
        await updateCredentialRule(core, actorOf(c), cred.id, { secret });
        return redirectDone(c, PATH, s.scope, "replaced");
      } catch (err) {
        applyRuleError(form, err, () => false);
      }
    }
    if (isHtmx(c)) return c.html(<ReplaceForm c={c} s={s} cred={cred} form={form} />, 422);
    return page(c, s, { flash: { kind: "error", text: form.formError ?? Object.values(form.errors)[0] ?? "The secret was not replaced." } }, 422);
  })
  .post(`${PATH}/:id/scope`, (c) =>
    answerMove(c, {
      path: PATH,
      what: "credential",
      load: (id) => getCredential(c.get("deps"), id),
      move: (id, target) => updateCredentialRule(c.get("deps"), actorOf(c), id, target),
      renderForm: (s, cred, form) => <MoveCredentialForm c={c} s={s} cred={cred} form={form} />,
      renderPage: (s, flash, moving) => page(c, s, { flash, moving }, 422),
    }),
  )
  .post(`${PATH}/:id/delete`, (c) =>
    answerDelete(c, PATH, (id) => deleteCredential(c.get("deps"), actorOf(c), id), (s, flash, status) => page(c, s, { flash }, status)),
  );
