// Form state, field and form errors, the CSRF field, POST buttons, and reading a posted form.
import type { Context } from "hono";
import type { z } from "zod";
import type { AuthInfo, HubEnv } from "../../context";

type Ctx = Context<HubEnv>;

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
