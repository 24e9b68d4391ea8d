// zod validation for API inputs with the contract's error shape: 400 { "error": "…" }.
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { z } from "zod";
import { describeZodError } from "../core/errors";

export { describeZodError };

export function validate<T extends z.ZodType, K extends keyof ValidationTargets>(target: K, schema: T) {
  return zValidator(target, schema, (result, c) => {
    if (!result.success) return c.json({ error: `invalid ${target}: ${describeZodError(result.error as unknown as z.ZodError)}` }, 400);
  });
}
