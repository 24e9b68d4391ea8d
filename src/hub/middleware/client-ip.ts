import type { Context } from "hono";
import { getConnInfo } from "hono/bun";

/** The peer address of the TCP connection (proxies' X-Forwarded-For is not trusted). */
export function clientIp(c: Context): string | null {
  try {
    return getConnInfo(c).remote.address ?? null;
  } catch {
    return null; // in-process requests (app.request) have no socket
  }
}
