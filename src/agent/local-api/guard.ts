// Who may talk to the agent's local API: processes on this host that can read the token
// file. Browsers are refused outright, because a web page could otherwise reach loopback
// (DNS rebinding: a hostile name resolving to 127.0.0.2; or a cross-site form post):
// - the peer must be a loopback address
// - the Host header must name a loopback address or localhost (a rebinding attack carries
//   the attacker's host name)
// - requests carrying Origin or Sec-Fetch-* headers come from a browser: rejected
// - then the bearer token, compared in constant time.
import { isIP } from "node:net";
import { safeEqual, sha256Hex } from "../../lib/crypto";

export type GuardResult = { ok: true } | { ok: false; status: 401 | 403; error: string };

export function isLoopbackAddress(addr: string): boolean {
  const a = addr.replace(/^\[|\]$/g, "").toLowerCase();
  if (a === "::1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** "127.0.0.2:9696", "[::1]:9696", "localhost" → true. */
export function isLoopbackHost(host: string | null): boolean {
  if (!host) return false;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  const name = (m[1] ?? m[2]!).toLowerCase();
  return name === "localhost" || isLoopbackAddress(name);
}

export function checkRequest(req: Request, peer: string | null, token: string, tokenFile: string): GuardResult {
  if (!peer || !isLoopbackAddress(peer)) return { ok: false, status: 403, error: "the local API only accepts connections from this host (loopback)" };
  if (!isLoopbackHost(req.headers.get("host"))) {
    return { ok: false, status: 403, error: "the Host header must be a loopback address or localhost" };
  }
  if (req.headers.has("origin") || req.headers.has("sec-fetch-site") || req.headers.has("sec-fetch-mode")) {
    return { ok: false, status: 403, error: "browser requests are not accepted by the agent's local API" };
  }
  const auth = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m || !safeEqual(sha256Hex(m[1]), sha256Hex(token))) {
    return {
      ok: false,
      status: 401,
      error: `missing or wrong bearer token: send "Authorization: Bearer <token>" with the content of ${tokenFile}`,
    };
  }
  return { ok: true };
}
