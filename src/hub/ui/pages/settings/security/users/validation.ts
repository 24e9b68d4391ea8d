// Zod schemas for the Users forms; the rules beyond field shape live in src/hub/core/principals.ts.
import { z } from "zod";
import { ROLE, ROLE_IDS } from "../../../../../../db/roles";
import { MIN_PASSWORD_LENGTH } from "../../../../../core/principals";

const tooLong = (n: number) => `At most ${n} characters`;
const emailField = z
  .string()
  .trim()
  .max(200, tooLong(200))
  .refine((v) => v === "" || z.email().safeParse(v).success, "Enter a valid email address, or leave it empty")
  .transform((v) => v || null);

export const addUserForm = z.object({
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

export const addServiceForm = z.object({
  title: z.string().trim().min(1, "Enter a title").max(100, tooLong(100)),
  description: z.string().trim().max(500, tooLong(500)),
});

export const editForm = z.object({
  title: z.string().trim().min(1, "Enter a title").max(100, tooLong(100)),
  description: z.string().trim().max(500, tooLong(500)),
  email: emailField,
  disabled: z.boolean(),
});

export const rolesForm = z.array(z.enum(ROLE_IDS, { error: "Unknown role" })).max(ROLE_IDS.length);

export const passwordForm = z
  .object({
    password: z.string().min(MIN_PASSWORD_LENGTH, `At least ${MIN_PASSWORD_LENGTH} characters`).max(1000, tooLong(1000)),
    confirm: z.string(),
  })
  .refine((v) => v.password === v.confirm, { message: "The two passwords differ", path: ["confirm"] });

/**
 * Whether a form built on `schema` shows a field: a RuleError naming it (core/principals.ts
 * sets `field`) is shown next to it, anything else as the form's message (ui/rule-errors.ts).
 */
export const formShows =
  (schema: z.ZodObject) =>
  (field: string): boolean =>
    Object.hasOwn(schema.shape, field);
