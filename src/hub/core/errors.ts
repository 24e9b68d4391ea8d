// One error type for rule failures: what the caller got wrong (status 4xx), in words an admin
// understands, optionally naming the input field. The JSON API maps it to `{ "error" }` once
// (src/hub/api/index.ts); pages map `field` to an inline message.
import type { z } from "zod";

export type RuleStatus = 400 | 403 | 404 | 409 | 422;

export class RuleError extends Error {
  constructor(
    readonly status: RuleStatus,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "RuleError";
  }
}

export const badRequest = (message: string, field?: string) => new RuleError(400, message, field);
export const notFound = (message: string) => new RuleError(404, message);
export const conflict = (message: string, field?: string) => new RuleError(409, message, field);

/** "domains.0: not a valid domain name; challenge: …" — the first few issues of a zod error. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Parses with a schema or throws a 400 RuleError naming the first failing field. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0]?.path.join(".");
  throw badRequest(`invalid ${what}: ${describeZodError(r.error)}`, first || undefined);
}
