// The "Add API Token" form and the choices it offers (enabled principals, roles).
import { findManagedInstancePrincipal, listPrincipals } from "../../../../../../db/principals";
import { listRoles, ROLE } from "../../../../../../db/roles";
import type { AuthInfo } from "../../../../../context";
import { Csrf, FieldError, FormError, type FormState, valueOf } from "../../../../components";
import { DialogActions } from "../../../../dialogs";
import { BASE, type Ctx, type Role, roleTitle } from "./common";

type PrincipalChoice = Awaited<ReturnType<typeof listPrincipals>>["rows"][number];

export interface FormChoices {
  principals: PrincipalChoice[];
  roles: Role[];
  defaultPrincipalId?: string;
}

export async function loadChoices(c: Ctx): Promise<FormChoices> {
  const { db } = c.get("deps");
  const [p, roles, managed] = await Promise.all([listPrincipals(db, { limit: 200 }), listRoles(db), findManagedInstancePrincipal(db)]);
  return { principals: p.rows.filter((r) => !r.disabled), roles, defaultPrincipalId: managed?.id };
}

export function AddTokenForm(props: { form: FormState; choices: FormChoices; auth: AuthInfo }) {
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
      <DialogActions cancel={BASE} submit="Add" />
    </form>
  );
}
