// Security headers on every response, and `Cache-Control: no-store` on every signed-in one.
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import type { HubEnv } from "../context";
import { SESSION_COOKIE } from "./auth";

// No inline script anywhere: htmx and app.js are served from /static. htmx injects
// its indicator styles inline, which we disable in app.js via htmx.config.includeIndicatorStyles.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

/** Also set by the held-wait path outside Hono (agent-api/wait.ts), which must answer identically. */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["Content-Security-Policy", CSP],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
];

// Headers go straight onto the finished response: c.header() after next() would rebuild
// the Response once per header, on every request including agent syncs.
export const securityHeaders = createMiddleware<HubEnv>(async (c, next) => {
  await next();
  const headers = c.res.headers;
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
  // Pages and API answers for a signed-in principal (or anyone presenting credentials) must
  // not stay in a browser's or proxy's cache after sign-out. Static assets keep their caching.
  if (signedIn(c) && !c.req.path.startsWith("/static/")) headers.set("Cache-Control", "no-store");
  if (c.req.url.startsWith("https:")) headers.set("Strict-Transport-Security", "max-age=31536000");
});

/** A session or API token authenticated this request, or it carried credentials to check. */
function signedIn(c: Context<HubEnv>): boolean {
  return c.get("auth") !== undefined || c.req.header("authorization") !== undefined || getCookie(c, SESSION_COOKIE) !== undefined;
}
