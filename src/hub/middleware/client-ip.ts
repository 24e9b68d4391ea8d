// The client's address, for rate limits, the audit log and instance records: the one place it
// is read. The TCP peer, unless the peer is a trusted reverse proxy (--trust-proxy CIDRs), then
// the rightmost X-Forwarded-For hop that is not itself a trusted proxy. Hops further left are
// whatever the client chose to send, so they are never believed.
import { BlockList, isIP } from "node:net";
import type { Context } from "hono";
import { getConnInfo } from "hono/bun";
import type { HubEnv } from "../context";

/** The peer address of the TCP connection, or null for in-process requests (app.request). */
export function peerAddress(c: Context): string | null {
  try {
    const address = getConnInfo(c).remote.address;
    return address ? normalizeIp(address) : null;
  } catch {
    return null;
  }
}

/** Client address: see the file comment. */
export function clientIp(c: Context<HubEnv>): string | null {
  const peer = peerAddress(c);
  const trusted = (c.get("deps") as HubEnv["Variables"]["deps"] | undefined)?.config.trustProxy;
  if (!peer || !trusted?.length) return peer;
  return forwardedClient(peer, c.req.header("x-forwarded-for"), trustedMatcher(trusted));
}

export type IsTrusted = (ip: string) => boolean;

/** Walks X-Forwarded-For from the right while each hop is a trusted proxy; the first other hop is the client. */
export function forwardedClient(peer: string, forwardedFor: string | undefined, isTrusted: IsTrusted): string {
  let client = normalizeIp(peer);
  if (!isTrusted(client) || !forwardedFor) return client;
  const hops = forwardedFor.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hopAddress(hops[i]!);
    // Garbage from a proxy we trust: stop at the last address we could believe.
    if (!hop) return client;
    client = hop;
    if (!isTrusted(hop)) return hop;
  }
  return client; // every hop is a trusted proxy: the leftmost is as far as we can see
}

const matchers = new WeakMap<string[], IsTrusted>();

/** A matcher for a list of CIDRs (cached per config array). */
export function trustedMatcher(cidrs: string[]): IsTrusted {
  let match = matchers.get(cidrs);
  if (!match) {
    const list = new BlockList();
    for (const c of cidrs) {
      const [net, bits] = c.split("/") as [string, string];
      list.addSubnet(net, Number(bits), isIP(net) === 6 ? "ipv6" : "ipv4");
    }
    match = (ip) => {
      const family = isIP(ip);
      return family !== 0 && list.check(ip, family === 6 ? "ipv6" : "ipv4");
    };
    matchers.set(cidrs, match);
  }
  return match;
}

/** "::ffff:10.0.0.1" → "10.0.0.1", so IPv4 limits and CIDRs apply on dual-stack sockets. */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1]! : ip;
}

/** One X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:567", "[2001:db8::1]:443", "2001:db8::1") → address or null. */
function hopAddress(raw: string): string | null {
  let s = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d{1,5}$/.test(s)) s = s.slice(0, s.lastIndexOf(":"));
  return isIP(s) ? normalizeIp(s) : null;
}
