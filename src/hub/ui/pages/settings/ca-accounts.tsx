// Settings › Certificate Authorities (/settings/ca-accounts): the ACME CA accounts defined at
// the chosen scope (and, for a group or instance, those it inherits), each instance's
// registration state as its agent reported it, "Add" with the presets (Let's Encrypt, ZeroSSL,
// Google Trust Services, Buypass, or any directory URL), External Account Binding (write-only)
// and extra trusted roots, move to another scope (with its EAB; refused, on the scope field,
// while a certificate using it would lose access) and delete (refused while a certificate
// uses the account).
// Rules: src/hub/core/ca-accounts.ts.
import { Hono } from "hono";
import type { HubDb } from "../../../../db/client";
import { registrationsOfAccount } from "../../../../db/agent-reports";
import { certificatesUsingAccount } from "../../../../db/managed-certificates";
import { instancesByIds } from "../../../../db/instances";
import { canWrite } from "../../../../db/roles";
import type { HubEnv } from "../../../context";
import { CA_PRESETS, caAccountView, createCaAccount, CreateCaAccountSchema, deleteCaAccount, getCaAccountDetail, listCaAccountViews, updateCaAccountRule } from "../../../core/ca-accounts";
import { describeScope } from "../../../core/scope";
import { actorOf } from "../../../middleware/auth";
import { Csrf, EmptyState, FieldError, Flash, FormError, type FormState, isHtmx, readForm, StatusBadge, Time, valueOf } from "../../components";
import { applyRuleError, zodFieldErrors } from "../../rule-errors";
import { readScope, ScopeFields, type ScopeState } from "../../scope-picker";
import { answerMove, type Moving, MoveScopeForm } from "./move-scope";
import { answerDelete, type Ctx, doneFlash, type FlashMessage, postedScope, redirectDone, SettingsPage } from "./page";

const PATH = "/settings/ca-accounts";
const DONE = {
  created: "CA account added. Instances it applies to register with the CA when a certificate first uses it.",
  deleted: "CA account deleted.",
  moved: "CA account moved. Instances of its new scope can use it; its External Account Binding moved with it.",
};
type Account = ReturnType<typeof caAccountView>;

const SHOWN_REGISTRATIONS = 50;
const SHOWN_USERS = 5;

/** Registrations (errors first, newest first) and the certificates using the account: a page of each, with totals. */
async function usage(db: HubDb, caAccountId: string) {
  const [regs, users] = await Promise.all([registrationsOfAccount(db, caAccountId, SHOWN_REGISTRATIONS), certificatesUsingAccount(db, caAccountId, SHOWN_USERS)]);
  return { regs: regs.rows, regCount: regs.total, users: users.rows, userCount: users.total };
}

async function loadAccounts(c: Ctx, s: ScopeState) {
  const core = c.get("deps");
  const own = await listCaAccountViews(core, { scope: s.scope });
  // A group or an instance also uses the accounts of wider scopes.
  let inherited: Account[] = [];
  if (s.instance) inherited = (await listCaAccountViews(core, { instance: s.instance })).filter((a) => !own.some((o) => o.id === a.id));
  else if (s.scope.scope === "group") inherited = await listCaAccountViews(core, { scope: { scope: "global", scopeId: "" } });
  const all = [...own, ...inherited];
  const details = await Promise.all(all.map(async (a) => [a.id, await usage(core.db, a.id)] as const));
  const hosts = new Map((await instancesByIds(core.db, [...new Set(details.flatMap(([, d]) => d.regs.map((r) => r.instanceId)))])).map((i) => [i.id, i.hostname]));
  return { own, inherited, details: new Map(details), hosts };
}

type Loaded = Awaited<ReturnType<typeof loadAccounts>>;

function Registrations(props: { d: NonNullable<ReturnType<Loaded["details"]["get"]>>; hosts: Loaded["hosts"] }) {
  const { d } = props;
  if (d.regCount === 0) return <span class="muted">no instance has registered yet</span>;
  return (
    <ul class="plain">
      {d.regs.map((r) => (
        <li>
          <a href={`/instances/${r.instanceId}`}>{props.hosts.get(r.instanceId) ?? r.instanceId}</a> <StatusBadge status={r.status} />
          {r.message ? <span class="detail"> {r.message}</span> : null} <Time ts={r.at} />
        </li>
      ))}
      {d.regCount > d.regs.length ? <li class="muted">and {d.regCount - d.regs.length} more</li> : null}
    </ul>
  );
}

function MoveAccountForm(props: { c: Ctx; s: ScopeState; a: Account; form?: FormState }) {
  const { a } = props;
  return (
    <MoveScopeForm
      c={props.c}
      s={props.s}
      action={`${PATH}/${a.id}/scope`}
      current={{ scope: a.scope, scopeId: a.scopeId ?? "" }}
      form={props.form}
      hint="Instances of the new scope can use it, the others no longer. Refused while a certificate using it would be outside the new scope."
    />
  );
}

function AccountsTable(props: { c: Ctx; s: ScopeState; rows: Account[]; data: Loaded; inherited?: boolean; moving?: Moving }) {
  const { c, rows, data } = props;
  const auth = c.get("auth");
  const write = canWrite(auth.roles) && !props.inherited;
  return (
    <table class="ca-accounts">
      <thead>
        <tr>
          <th>Title</th>
          <th>Directory</th>
          <th>Contact</th>
          {props.inherited ? <th>Defined for</th> : null}
          <th>Registration per instance</th>
          <th>Used by</th>
          {write ? <th>Actions</th> : null}
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => {
          const d = data.details.get(a.id)!;
          return (
            <tr data-ca-account-id={a.id}>
              <td>
                {a.title}
                <div class="muted mono">{a.id}</div>
              </td>
              <td>
                <span class="mono wrap">{a.directoryUrl}</span>
                {a.preset ? <div class="muted">preset {CA_PRESETS.find((p) => p.id === a.preset)?.title}</div> : null}
                {a.eab ? <div class="muted">External Account Binding: stored (write-only)</div> : null}
                {a.trustedRootsPem ? <div class="muted">extra trusted roots</div> : null}
              </td>
              <td>{a.email ?? <span class="muted">default contact email</span>}</td>
              {props.inherited ? <td>{describeScope({ scope: a.scope, scopeId: a.scopeId ?? "" })}</td> : null}
              <td>
                <Registrations d={d} hosts={data.hosts} />
              </td>
              <td>
                {d.users.length === 0 ? (
                  <span class="muted">no certificate</span>
                ) : (
                  d.users.map((u) => (
                    <div>
                      <a href={`/certificates/${u.id}`}>{u.name}</a>
                    </div>
                  ))
                )}
                {d.userCount > d.users.length ? <div class="muted">and {d.userCount - d.users.length} more</div> : null}
              </td>
              {write ? (
                <td>
                  <div class="actions">
                    <MoveAccountForm c={c} s={props.s} a={a} form={props.moving?.id === a.id ? props.moving.form : undefined} />
                    <form method="post" action={`${PATH}/${a.id}/delete`} hx-post={`${PATH}/${a.id}/delete`} hx-confirm={`Delete the CA account “${a.title}”? Instances stop using it.`} hx-target="#flash" hx-swap="outerHTML">
                      <Csrf auth={auth} />
                      <ScopeFields scope={props.s.scope} />
                      <button type="submit" class="small danger">
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

export function AddCaAccountForm(props: { c: Ctx; s: ScopeState; form: FormState }) {
  const { c, s, form } = props;
  const v = (n: string) => valueOf(form, n);
  const preset = v("preset") || "letsencrypt";
  const inv = (n: string) => (form.errors[n] ? "true" : undefined);
  return (
    <div class="form-host card" id="add-ca-account">
      <form method="post" action={PATH} hx-post={PATH} hx-target="closest .form-host" hx-swap="outerHTML" class="ca-form" novalidate>
        <h2>Add a CA account for {s.label}</h2>
        <FormError form={form} />
        <Csrf auth={c.get("auth")} />
        <ScopeFields scope={s.scope} />
        <label>
          Certificate authority
          <select name="preset" aria-invalid={inv("preset")}>
            {CA_PRESETS.map((p) => (
              <option value={p.id} selected={preset === p.id}>
                {p.title}
                {p.eabRequired ? " — needs External Account Binding" : ""}
              </option>
            ))}
            <option value="custom" selected={preset === "custom"}>
              Custom ACME directory URL (e.g. a private step-ca)
            </option>
          </select>
          <FieldError errors={form.errors} name="preset" />
        </label>
        <label class="only-custom">
          ACME directory URL
          <input name="directoryUrl" value={v("directoryUrl")} placeholder="https://ca.internal:9000/acme/acme/directory" maxlength={2048} aria-invalid={inv("directoryUrl")} />
          <span class="hint">https only; plain http just for a CA on the agent's own loopback.</span>
          <FieldError errors={form.errors} name="directoryUrl" />
        </label>
        <div class="form-row">
          <label>
            Title <span class="muted">(optional for a preset)</span>
            <input name="title" value={v("title")} maxlength={200} aria-invalid={inv("title")} />
            <FieldError errors={form.errors} name="title" />
          </label>
          <label>
            Contact email <span class="muted">(optional)</span>
            <input name="email" type="email" value={v("email")} maxlength={254} aria-invalid={inv("email")} />
            <span class="hint">Empty: the “Default contact email” setting.</span>
            <FieldError errors={form.errors} name="email" />
          </label>
        </div>
        <fieldset class="choice">
          <legend>External Account Binding (ZeroSSL, Google Trust Services, many private CAs)</legend>
          <div class="form-row">
            <label>
              Key ID
              <input name="eab.keyId" value={v("eab.keyId")} autocomplete="off" maxlength={256} aria-invalid={inv("eab.keyId")} />
              <FieldError errors={form.errors} name="eab.keyId" />
            </label>
            <label>
              HMAC key
              <input name="eab.hmacKey" type="password" autocomplete="new-password" maxlength={1024} aria-invalid={inv("eab.hmacKey")} />
              <span class="hint">Stored encrypted, never shown again.</span>
              <FieldError errors={form.errors} name="eab.hmacKey" />
            </label>
          </div>
        </fieldset>
        <label>
          Extra trusted roots (PEM) <span class="muted">(optional: for a private CA's HTTPS endpoint)</span>
          <textarea name="trustedRootsPem" rows={3} aria-invalid={inv("trustedRootsPem")} placeholder="-----BEGIN CERTIFICATE-----">
            {v("trustedRootsPem")}
          </textarea>
          <FieldError errors={form.errors} name="trustedRootsPem" />
        </label>
        <button type="submit" class="primary">
          Add CA account
        </button>
      </form>
    </div>
  );
}

async function page(c: Ctx, s: ScopeState, opts: { form?: FormState; flash?: FlashMessage; moving?: Moving } = {}, status: 200 | 404 | 409 | 422 = 200) {
  const data = await loadAccounts(c, s);
  const write = canWrite(c.get("auth").roles);
  return c.html(
    <SettingsPage c={c} title="Settings › Certificate Authorities" active="ca-accounts" path={PATH} s={s} flash={opts.flash ?? doneFlash(c, DONE)} intro="ACME accounts the agents use to obtain certificates. Each agent makes and registers its own account key; it never leaves the host.">
      <h2>Defined for {s.label}</h2>
      {data.own.length ? (
        <AccountsTable c={c} s={s} rows={data.own} data={data} moving={opts.moving} />
      ) : (
        <EmptyState title={`No CA account is defined for ${s.label}.`}>
          <p>{write ? "Add one below (Let's Encrypt needs only a contact email)." : "An administrator can add one."}</p>
        </EmptyState>
      )}
      {data.inherited.length ? (
        <>
          <h2>Also available here, from wider scopes</h2>
          <AccountsTable c={c} s={s} rows={data.inherited} data={data} inherited />
        </>
      ) : null}
      {write ? <AddCaAccountForm c={c} s={s} form={opts.form ?? { values: {}, errors: {} }} /> : <p class="muted">Read-only access: you can view CA accounts but not change them.</p>}
    </SettingsPage>,
    status,
  );
}

export const caAccountPages = new Hono<HubEnv>()
  .get(PATH, async (c) => page(c, await readScope(c)))
  .post(PATH, async (c) => {
    const f = await readForm(c);
    const s = await readScope(c, postedScope(f));
    if (s.problem) return c.text(s.problem, 422);
    const form: FormState = { values: { ...f.values, "eab.hmacKey": undefined }, errors: {} };
    const preset = f.one("preset");
    const keyId = f.one("eab.keyId").trim();
    const hmacKey = f.one("eab.hmacKey").trim();
    const input = {
      ...(preset && preset !== "custom" ? { preset } : { directoryUrl: f.one("directoryUrl").trim() }),
      ...(f.one("title").trim() ? { title: f.one("title").trim() } : {}),
      email: f.one("email").trim(),
      ...(f.one("trustedRootsPem").trim() ? { trustedRootsPem: f.one("trustedRootsPem") } : {}),
      ...(keyId || hmacKey ? { eab: { keyId, hmacKey } } : {}),
      scope: s.scope.scope,
      ...(s.scope.scopeId ? { scopeId: s.scope.scopeId } : {}),
    };
    if (preset === "custom" && !f.one("directoryUrl").trim()) form.errors.directoryUrl = "Enter the CA's ACME directory URL.";
    const eabPreset = CA_PRESETS.find((p) => p.id === preset);
    if (eabPreset?.eabRequired && !(keyId && hmacKey)) form.errors["eab.keyId"] = `${eabPreset.title} requires External Account Binding: enter the key ID and HMAC key from its dashboard.`;
    const parsed = CreateCaAccountSchema.safeParse(input);
    if (!parsed.success) Object.assign(form.errors, zodFieldErrors(parsed.error));
    if (parsed.success && !Object.keys(form.errors).length) {
      try {
        await createCaAccount(c.get("deps"), actorOf(c), parsed.data);
        return redirectDone(c, PATH, s.scope, "created");
      } catch (err) {
        applyRuleError(form, err, (field) => ["preset", "directoryUrl", "title", "email", "trustedRootsPem", "eab.keyId", "eab.hmacKey"].includes(field));
      }
    }
    if (isHtmx(c)) return c.html(<AddCaAccountForm c={c} s={s} form={form} />, 422);
    return page(c, s, { form }, 422);
  })
  .post(`${PATH}/:id/scope`, (c) =>
    answerMove(c, {
      path: PATH,
      what: "CA account",
      load: (id) => getCaAccountDetail(c.get("deps"), id),
      move: (id, target) => updateCaAccountRule(c.get("deps"), actorOf(c), id, target),
      renderForm: (s, a, form) => <MoveAccountForm c={c} s={s} a={a} form={form} />,
      renderPage: (s, flash, moving) => page(c, s, { flash, moving }, 422),
    }),
  )
  .post(`${PATH}/:id/delete`, (c) =>
    answerDelete(c, PATH, (id) => deleteCaAccount(c.get("deps"), actorOf(c), id), (s, flash, status) => page(c, s, { flash }, status)),
  );

