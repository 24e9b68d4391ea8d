// The Users dialogs' forms: add a principal, edit it, pick its roles, reset a password. Each
// posts into its .form-host, so a 422 answer re-renders it there with the errors.
import { ROLE } from "../../../../../../db/roles";
import type { AuthInfo } from "../../../../../context";
import { MIN_PASSWORD_LENGTH } from "../../../../../core/principals";
import { Csrf, FieldError, FormError, type FormState, valueOf } from "../../../../components";
import { DialogActions } from "../../../../dialogs";
import { BASE, type Detail, type Role, TYPE_LABEL } from "./common";

/** The password box of the add and reset forms; never refilled after an error. */
function NewPassword(props: { label: string; form: FormState }) {
  const { form } = props;
  return (
    <label>
      {props.label}
      <input name="password" type="password" autocomplete="new-password" minlength={MIN_PASSWORD_LENGTH} aria-invalid={form.errors.password ? "true" : undefined} />
      <span class="hint">At least {MIN_PASSWORD_LENGTH} characters.</span>
      <FieldError errors={form.errors} name="password" />
    </label>
  );
}

export function AddForm(props: { form: FormState; auth: AuthInfo }) {
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
          <NewPassword label="Initial password" form={form} />
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
      <DialogActions cancel={BASE} submit="Add" />
    </form>
  );
}

/**
 * What disabling does to keys the principal owns. Joined instances keep working on purpose:
 * after joining, an instance authenticates with its own key pair, not the joining key, and
 * cutting a fleet off is what revoking the key is for.
 */
export function disableEffectOnKeys(type: Detail["type"]) {
  const its = type === "user" ? "Their" : "Its";
  return `${its} API tokens stop working and ${its.toLowerCase()} joining keys accept no new joins, at once. Instances already joined with ${its.toLowerCase()} keys keep working; revoke a key on the API Access page to cut them off.`;
}

export function EditForm(props: { p: Detail; form: FormState; auth: AuthInfo }) {
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
            : `${p.type === "user" ? "A disabled user cannot sign in; their open sessions end at once. " : ""}${disableEffectOnKeys(p.type)}`}
        </span>
        <FieldError errors={form.errors} name="disabled" />
      </label>
      <DialogActions cancel={BASE} submit="Save" />
    </form>
  );
}

export function RolesForm(props: { p: Detail; roles: Role[]; form: FormState; auth: AuthInfo }) {
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
      <DialogActions cancel={BASE} submit="Save" />
    </form>
  );
}

export function PasswordForm(props: { p: Detail; form: FormState; auth: AuthInfo }) {
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
        <NewPassword label="New password" form={form} />
        <label>
          Repeat it
          <input name="confirm" type="password" autocomplete="new-password" aria-invalid={form.errors.confirm ? "true" : undefined} />
          <FieldError errors={form.errors} name="confirm" />
        </label>
      </div>
      <DialogActions cancel={BASE} submit="Reset password" />
    </form>
  );
}
