// The "Add API Token" form schema, and the token service's rule errors mapped onto its fields
// by the RuleError's `field` (never its wording).
import { z } from "zod";
import { ROLE_IDS } from "../../../../../../db/roles";
import type { RuleError } from "../../../../../core/errors";
import type { FormState } from "../../../../components";
import { sentence } from "../../../../rule-errors";

/** Optional whole number typed into a text/number box. */
const optionalInt = (min: number, max: number, message: string) =>
  z
    .string()
    .trim()
    .refine((v) => v === "" || (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max), message)
    .transform((v) => (v === "" ? null : Number(v)));

export const addTokenForm = z
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

/**
 * Where a rule of the token service (core/tokens.ts) shows on this form, by the RuleError's
 * `field`: the rules speak of the token's inputs, the form's expiry is a date box.
 */
const FORM_FIELD: Record<string, keyof typeof addTokenForm.shape> = {
  principalId: "principalId",
  title: "title",
  role: "role",
  group: "group",
  expiresAt: "expiresOn",
  maxUses: "maxUses",
};

/** What to do next, after the rule's own words, per form field. */
const NEXT_STEP: Partial<Record<keyof typeof addTokenForm.shape, string>> = {
  role: "Use the roles icon on Security › Users, or pick another principal.",
};

/** Puts a rule the token service enforces next to the field it concerns (else on the form). */
export function applyTokenRuleError(form: FormState, err: RuleError): FormState {
  const field = err.field === undefined ? undefined : FORM_FIELD[err.field];
  const text = sentence(err.message);
  if (!field) form.formError = text;
  else form.errors[field] ??= NEXT_STEP[field] ? `${text} ${NEXT_STEP[field]}` : text;
  return form;
}
