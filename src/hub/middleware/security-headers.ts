import { createMiddleware } from "hono/factory";

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

const HEADERS: [string, string][] = [
  ["Content-Security-Policy", CSP],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
];

// Headers go straight onto the finished response: c.header() after next() would rebuild
// the Response once per header, on every request including agent syncs.
export const securityHeaders = createMiddleware(async (c, next) => {
  await next();
  const headers = c.res.headers;
  for (const [name, value] of HEADERS) headers.set(name, value);
  if (c.req.url.startsWith("https:")) headers.set("Strict-Transport-Security", "max-age=31536000");
});
