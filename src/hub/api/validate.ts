// zod validation for API inputs with the contract's error shape: 400 { "error": "…" }.
// JSON bodies are first checked to be UTF-8 and nested at most MAX_JSON_DEPTH levels: deeper
// ones parse, but overflow the stack in zod or when stored (a 500; security review #11).
import { zValidator } from "@hono/zod-validator";
import type { Context, Next, ValidationTargets } from "hono";
import type { z } from "zod";
import { jsonDepth, MAX_JSON_DEPTH } from "../../lib/json-bounded";
import { describeZodError } from "../core/errors";

export { describeZodError };

export function validate<T extends z.ZodType, K extends keyof ValidationTargets>(target: K, schema: T) {
  const check = zValidator(target, schema, (result, c) => {
    if (!result.success) return c.json({ error: `invalid ${target}: ${describeZodError(result.error as unknown as z.ZodError)}` }, 400);
  });
  if (target !== "json") return check;
  return (async (c: Context, next: Next) => {
    const refused = await refuseUnboundedJson(c);
    return refused ?? check(c as never, next);
  }) as unknown as typeof check;
}

/** 400 for a JSON body that is not UTF-8 or nests too deep; undefined when it may be parsed. */
export async function refuseUnboundedJson(c: Context): Promise<Response | undefined> {
  // Read once as bytes: Hono caches the body, so the validator's c.req.json() reuses it.
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return c.json({ error: "invalid json: the request body is not valid UTF-8" }, 400);
  }
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) return c.json({ error: `invalid json: nested deeper than ${MAX_JSON_DEPTH} levels` }, 400);
  return undefined;
}
