// DNS look-ups against one chosen server (the RFC 2136 primary, or a test resolver): server
// address parsing, the TXT visibility check that gates "ready to validate", and the SOA walk
// that finds the zone of a name.
import { isIP } from "node:net";
import { lookup, Resolver } from "node:dns/promises";
import { sleep } from "../client";

export interface DnsServer { host: string; port: number }

/** "192.0.2.1", "192.0.2.1:5354", "[2001:db8::1]:53", "ns1.example.com:53". */
export function parseServer(s: string): DnsServer {
  const v6 = s.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (v6) return { host: v6[1], port: Number(v6[2] ?? 53) };
  if (isIP(s) === 6) return { host: s, port: 53 };
  const m = s.match(/^([^:]+)(?::(\d+))?$/);
  if (!m) throw new Error(`invalid DNS server "${s}" (host or host:port)`);
  const port = Number(m[2] ?? 53);
  if (!(port >= 1 && port <= 65535)) throw new Error(`invalid DNS server port in "${s}"`);
  return { host: m[1], port };
}

/** The server with its host resolved to an IP address (UDP and c-ares need one). */
export async function serverAddress(s: string): Promise<DnsServer> {
  const srv = parseServer(s);
  if (isIP(srv.host)) return srv;
  const { address } = await lookup(srv.host);
  return { host: address, port: srv.port };
}

export function resolverFor(srv: DnsServer): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  r.setServers([isIP(srv.host) === 6 ? `[${srv.host}]:${srv.port}` : `${srv.host}:${srv.port}`]);
  return r;
}

/** TXT values on the server now. A fresh Resolver per query: Bun's Resolver caches answers. */
export async function txtValues(srv: DnsServer, fqdn: string): Promise<string[]> {
  const r = resolverFor(srv);
  try {
    const recs: string[][] = await r.resolveTxt(fqdn.replace(/\.$/, ""));
    return recs.map((chunks) => chunks.join(""));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENODATA" || code === "ENOTFOUND") return [];
    throw err;
  }
}

/** Polls until `value` is among the TXT records of `fqdn` on the server, or throws after `timeoutMs`. */
export async function waitForTxt(srv: DnsServer, fqdn: string, value: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const t0 = Date.now();
  for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
    const seen = await txtValues(srv, fqdn).catch((): string[] => []);
    if (seen.includes(value)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`TXT record for ${fqdn} not visible on the DNS server after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(wait, signal);
  }
}

/**
 * The zone apex holding `fqdn`: walk up the labels asking the server for SOA. Bun's resolver
 * reports ENOTFOUND where Node says ENODATA for an existing non-apex name: both mean "go up".
 */
export async function findZone(r: Resolver, fqdn: string): Promise<string> {
  const labels = fqdn.replace(/\.$/, "").split(".");
  for (let i = 0; i < labels.length - 1; i++) {
    const name = labels.slice(i).join(".");
    try {
      await r.resolveSoa(name);
      return name;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "ENODATA" && code !== "ENOTFOUND" && code !== "ESERVFAIL" && code !== "EREFUSED") throw new Error(`SOA look-up of ${name} failed: ${code}`);
    }
  }
  throw new Error(`no zone found for ${fqdn} on the DNS server (set the zone explicitly)`);
}
