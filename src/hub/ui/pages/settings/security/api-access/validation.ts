// The "Add API Token" form schema, and the token service's rule errors mapped onto its fields.
import { z } from "zod";
import { ROLE_IDS } from "../../../../../../db/roles";
import type { RuleError } from "../../../../../core/errors";

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

/** Turns a rule the token service enforces into a message next to the field it concerns. */
export function ruleToField(err: RuleError): [string, string] {
  const m = err.message;
  const text = `${m[0].toUpperCase()}${m.slice(1)}.`;
  if (m.includes("does not hold")) return ["role", `${text} Use the roles icon on Security › Users, or pick another principal.`];
  if (m.includes("expiry")) return ["expiresOn", text];
  return ["principalId", text];
}
