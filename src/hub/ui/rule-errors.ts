// Rule failures on pages, in one place: a RuleError from src/hub/core (or a zod error from a
// page's own parse) becomes messages next to the fields they concern, the way the JSON API
// turns them into { "error", "field" } once. Field names in page forms are the same dotted
// paths the rules use ("challenge.credentialId", "deployments.2.path"), so no table of names
// is needed; a field the form does not show falls back to the form-level message.
import type { z } from "zod";
import { RuleError } from "../core/errors";
import type { FieldErrors, FormState } from "./components";

/** "a thing" → "A thing." */
export function sentence(message: string): string {
  const m = message.trim();
  if (!m) return m;
  return `${m[0].toUpperCase()}${m.slice(1)}${/[.!?]$/.test(m) ? "" : "."}`;
}

/** First message per full dotted path of a zod error ("deployments.0.directory"). */
export function zodFieldErrors(err: z.ZodError, prefix = ""): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of err.issues) {
    const key = prefix + (issue.path.length ? issue.path.map(String).join(".") : "_form");
    out[key] ??= sentence(issue.message);
  }
  return out;
}

/**
 * Puts a rule failure on the form: on its field when the form shows that field (or a parent
 * of it: "challenge.port" falls back to "challenge"), else as the form's message. Anything
 * that is not a RuleError is rethrown (a bug, a 500).
 */
export function applyRuleError(form: FormState, err: unknown, shown: (field: string) => boolean = () => true): FormState {
  if (!(err instanceof RuleError)) throw err;
  const text = sentence(err.message);
  let field = err.field;
  while (field && !shown(field)) field = field.includes(".") ? field.slice(0, field.lastIndexOf(".")) : undefined;
  if (field) form.errors[field] ??= text;
  else form.formError = text;
  return form;
}
