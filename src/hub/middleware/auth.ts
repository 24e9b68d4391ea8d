// Authentication for admin pages (session cookie) and the JSON API (session or HTTP
// Basic with an API token), plus CSRF checks for every state-changing session request.
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { checkApiToken, consumeApiTokenUse, TOKEN_ERROR_MESSAGES } from "../../db/api-tokens";
import { canRead, canWrite, rolesOf } from "../../db/roles";
import { validateSession } from "../../db/sessions";
import { safeEqual } from "../../lib/crypto";
import type { AuthInfo, HubEnv } from "../context";
import { clientIp } from "./client-ip";

export const SESSION_COOKIE = "certhub_session";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Changes any signed-in user may make to their own account, whatever their role. */
const SELF_SERVICE_PATHS = new Set(["/logout", "/account/password"]);

async function sessionAuth(c: Context<HubEnv>): Promise<AuthInfo | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return undefined;
  const { db, config } = c.get("deps");
  const live = await validateSession(db, token, config.sessions);
  if (!live) return undefined;
  return {
    principalId: live.session.principalId,
    label: live.label,
    roles: live.roles,
    via: "session",
    csrfToken: live.session.csrfToken,
    sessionIdHash: live.session.idHash,
  };
}

/** A state-changing request must carry the session's CSRF token (header or form field) and no foreign Origin. */
async function csrfOk(c: Context<HubEnv>, auth: AuthInfo): Promise<boolean> {
  if (SAFE_METHODS.has(c.req.method)) return true;
  const origin = c.req.header("origin");
  if (origin && origin !== new URL(c.req.url).origin) return false;
  let token = c.req.header("x-csrf-token");
  if (!token) {
    const type = c.req.header("content-type") ?? "";
    if (type.includes("application/x-www-form-urlencoded") || type.includes("multipart/form-data")) {
      const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
      token = typeof body._csrf === "string" ? body._csrf : undefined;
    }
  }
  return !!token && !!auth.csrfToken && safeEqual(token, auth.csrfToken);
}

/** Admin pages: signed-in users with a hub role; others go to /login. */
export const requirePageSession = createMiddleware<HubEnv>(async (c, next) => {
  const auth = await sessionAuth(c);
  if (!auth || !canRead(auth.roles)) {
    if (c.req.header("hx-request")) {
      c.header("HX-Redirect", "/login");
      return c.body(null, 401);
    }
    const back = new URL(c.req.url);
    return c.redirect(`/login?next=${encodeURIComponent(back.pathname + back.search)}`);
  }
  if (!(await csrfOk(c, auth))) return c.text("Forbidden: missing or invalid CSRF token. Reload the page and try again.", 403);
  if (!SAFE_METHODS.has(c.req.method) && !canWrite(auth.roles) && !SELF_SERVICE_PATHS.has(c.req.path)) {
    return c.text("Forbidden: read-only users cannot change anything.", 403);
  }
  c.set("auth", auth);
  await next();
});

function parseBasic(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.startsWith("Basic ")) return undefined;
  let decoded: string;
  try {
    decoded = atob(header.slice(6).trim());
  } catch {
    return undefined;
  }
  const i = decoded.indexOf(":");
  return i > 0 ? { id: decoded.slice(0, i), secret: decoded.slice(i + 1) } : undefined;
}

/** JSON API: HTTP Basic with an administrator/readonly API token, or a session (+CSRF). */
export const requireApiAuth = createMiddleware<HubEnv>(async (c, next) => {
  const { db } = c.get("deps");
  const authz = c.req.header("authorization");
  let auth: AuthInfo | undefined;
  if (authz) {
    const basic = parseBasic(authz);
    if (!basic) return c.json({ error: "malformed Authorization header: use HTTP Basic clientId:secret" }, 401);
    const check = await checkApiToken(db, basic.id, basic.secret, "admin-api");
    if (!check.ok) return c.json({ error: TOKEN_ERROR_MESSAGES[check.reason] }, 401);
    if (!(await consumeApiTokenUse(db, check.token.id, clientIp(c)))) return c.json({ error: TOKEN_ERROR_MESSAGES["used-up"] }, 401);
    const principalRoles = await rolesOf(db, check.token.principalId);
    // A token acts with its scoped role, and only if its principal still holds that role.
    const roles = principalRoles.includes(check.token.roleId as never) ? [check.token.roleId as AuthInfo["roles"][number]] : [];
    auth = { principalId: check.token.principalId, label: `token:${check.token.title}`, roles, via: "token" };
  } else {
    auth = await sessionAuth(c);
    if (!auth) return c.json({ error: "authentication required: sign in or use HTTP Basic with an API token" }, 401);
    if (!(await csrfOk(c, auth))) return c.json({ error: "missing or invalid CSRF token (send X-CSRF-Token)" }, 403);
  }
  if (!canRead(auth.roles)) return c.json({ error: "this principal has no hub role" }, 403);
  if (!SAFE_METHODS.has(c.req.method) && !canWrite(auth.roles)) {
    return c.json({ error: "read-only: the administrator role is required for this action" }, 403);
  }
  c.set("auth", auth);
  await next();
});

/** For page routes that change things: administrators only. */
export const requireAdmin = createMiddleware<HubEnv>(async (c, next) => {
  const auth = c.get("auth");
  if (!canWrite(auth.roles)) {
    const msg = "read-only: the administrator role is required for this action";
    return c.req.header("hx-request") || c.req.path.startsWith("/api/") ? c.json({ error: msg }, 403) : c.text(msg, 403);
  }
  await next();
});

export function actorOf(c: Context<HubEnv>) {
  const auth = c.get("auth");
  return { id: auth.principalId, label: auth.label, ip: clientIp(c) };
}
