// Small helpers for the agent API: JSON errors, client address, body parsing.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { parseJsonBounded } from "../../lib/json-bounded";
import type { ErrorCode } from "../../protocol";
import type { HubEnv } from "../context";
import { clientIp as hubClientIp } from "../middleware/client-ip";

export type Ctx = Context<HubEnv>;

export function fail(c: Ctx, status: ContentfulStatusCode, error: string, code?: ErrorCode, headers?: Record<string, string>) {
  return c.json(code ? { error, code } : { error }, status, headers);
}

interface BunServerLike {
  requestIP?(req: Request): { address: string } | null;
  timeout?(req: Request, seconds: number): void;
}

/** The Bun server handling this request, when the hub passes it as Hono's env (Bun.serve does). */
export function bunServer(c: Ctx): BunServerLike | null {
  const env = c.env as unknown as (BunServerLike & { server?: BunServerLike }) | undefined;
  if (!env || typeof env !== "object") return null;
  return env.server ?? env;
}

/** Client address: the one helper for the whole hub (peer, or X-Forwarded-For from a trusted proxy). */
export const clientIp: (c: Ctx) => string | null = hubClientIp;

export type Parsed<T> = { ok: true; raw: Uint8Array; value: T } | { ok: false; response: Response };

/** Reads the raw body (needed for the signature hash), then parses JSON and validates it. */
export async function readJson<T>(c: Ctx, schema: z.ZodType<T>, raw?: Uint8Array): Promise<Parsed<T>> {
  const bytes = raw ?? new Uint8Array(await c.req.arrayBuffer());
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, response: fail(c, 400, "request body is not valid UTF-8", "bad-request") };
  }
  // Depth-limited: 150,000 nested arrays parse, then overflow the stack in zod or when stored.
  const parsed = parseJsonBounded(text);
  if (!parsed.ok) return { ok: false, response: fail(c, 400, `request body is not valid JSON: ${parsed.error}`, "bad-request") };
  const data = parsed.value;
  const res = schema.safeParse(data);
  if (!res.success) {
    const issue = res.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return { ok: false, response: fail(c, 400, `invalid request: ${where}${issue?.message ?? "bad input"}`, "bad-request") };
  }
  return { ok: true, raw: bytes, value: res.data };
}
