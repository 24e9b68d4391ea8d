// Small helpers for the agent API: JSON errors, client address, body parsing.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { parseJsonBounded } from "../../lib/json-bounded";
import type { ErrorCode } from "../../protocol";
import type { HubEnv } from "../context";
import { clientIp as hubClientIp, forwardedClient, normalizeIp, trustedMatcher } from "../middleware/client-ip";

export type Ctx = Context<HubEnv>;

export function fail(c: Ctx, status: ContentfulStatusCode, error: string, code?: ErrorCode, headers?: Record<string, string>) {
  return c.json(code ? { error, code } : { error }, status, headers);
}

export interface BunServerLike {
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
  const parsed = parseBody(schema, bytes);
  if (!parsed.ok) return { ok: false, response: fail(c, 400, parsed.error, "bad-request") };
  return { ok: true, raw: bytes, value: parsed.value };
}

/** The body's UTF-8 JSON validated by `schema`, or the 400 message (the same for every path). */
export function parseBody<T>(schema: z.ZodType<T>, bytes: Uint8Array): { ok: true; value: T } | { ok: false; error: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, error: "request body is not valid UTF-8" };
  }
  // Depth-limited: 150,000 nested arrays parse, then overflow the stack in zod or when stored.
  const parsed = parseJsonBounded(text);
  if (!parsed.ok) return { ok: false, error: `request body is not valid JSON: ${parsed.error}` };
  const res = schema.safeParse(parsed.value);
  if (!res.success) {
    const issue = res.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return { ok: false, error: `invalid request: ${where}${issue?.message ?? "bad input"}` };
  }
  return { ok: true, value: res.data };
}

/**
 * Client address of a plain Request served by Bun.serve (no Hono context): the same rule as
 * clientIp() — the peer, or X-Forwarded-For read through the trusted proxies.
 */
export function clientIpOfRequest(req: Request, server: BunServerLike | null, trustProxy: string[] | undefined): string | null {
  let peer: string | null = null;
  try {
    const address = server?.requestIP?.(req)?.address;
    peer = address ? normalizeIp(address) : null;
  } catch {}
  if (!peer || !trustProxy?.length) return peer;
  return forwardedClient(peer, req.headers.get("x-forwarded-for") ?? undefined, trustedMatcher(trustProxy));
}
