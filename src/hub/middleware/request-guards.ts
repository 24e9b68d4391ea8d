// Input every route may receive, refused once before routing (security review #11):
//  - a path whose percent-decoding fails or yields control characters (CR/LF, NUL …): no
//    route takes such a segment, and echoing one into a Location or HX-Redirect header is a
//    500 (Headers refuse it) or, worse elsewhere, header injection;
//  - a page form body (urlencoded / multipart) that cannot be parsed: handlers would throw.
//    Parsed here once; Hono caches the result, so handlers and the CSRF check reuse it.
// JSON bodies are checked where they are parsed (api/validate.ts, agent-api/util.ts).
import { createMiddleware } from "hono/factory";
import type { HubEnv } from "../context";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const FORM = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export const requestGuards = createMiddleware<HubEnv>(async (c, next) => {
  const path = c.req.path;
  const api = path.startsWith("/api/");
  const refuse = (error: string) => (api ? c.json({ error }, 400) : c.text(`Bad request: ${error}`, 400));
  const rawPath = rawPathOf(c.req.url);
  if (rawPath.includes("%")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      return refuse("malformed percent-encoding in the path");
    }
    if (CONTROL.test(decoded)) return refuse("control characters in the path");
  }
  if (!api && BODY_METHODS.has(c.req.method) && FORM.test(c.req.header("content-type") ?? "")) {
    try {
      await c.req.parseBody();
    } catch {
      return refuse("malformed form body");
    }
  }
  await next();
});

/** The path of a request URL as sent (still percent-encoded), without parsing the whole URL. */
function rawPathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.search(/[?#]/);
  return end < 0 || end < start ? url.slice(start) : url.slice(start, end);
}
