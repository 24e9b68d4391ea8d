// Certificate chains: Link rel="alternate" parsing (RFC 8555 §7.4.2), choosing a preferred
// chain by issuer common name (as certbot's --preferred-chain), and reading the issued leaf.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { pemBlocks } from "./b64";

/** URLs of `Link: <url>;rel="alternate"` headers, resolved against the request URL. */
export function alternateLinks(headers: Headers, base: string): string[] {
  const out: string[] = [];
  const all = headers.get("link");
  if (!all) return out;
  // Several Link headers arrive joined by ", "; split only between "<...>" entries.
  for (const part of all.split(/,(?=\s*<)/)) {
    const m = part.match(/^\s*<([^>]*)>(.*)$/);
    if (!m) continue;
    if (!/;\s*rel\s*=\s*"?(?:[^";]*\s)?alternate(?:\s[^";]*)?"?\s*(?:;|$)/i.test(m[2])) continue;
    try {
      out.push(new URL(m[1], base).toString());
    } catch {}
  }
  return out;
}

function commonName(dn: string): string | null {
  const name = new x509.Name(dn);
  return name.getField("CN")[0] ?? null;
}

/**
 * Whether a chain (leaf first) ends at the preferred CA: the topmost certificate's issuer CN or
 * subject CN equals `preferred` (case-insensitive).
 */
export function chainMatches(chainPem: string, preferred: string): boolean {
  const certs = pemBlocks(chainPem);
  const top = certs[certs.length - 1];
  if (!top) return false;
  const cert = new x509.X509Certificate(top);
  const want = preferred.trim().toLowerCase();
  return [commonName(cert.issuer), commonName(cert.subject)].some((cn) => cn?.toLowerCase() === want);
}

export interface LeafInfo { serial: string; notBefore: number; notAfter: number; issuer: string }

export function leafInfo(certPem: string): LeafInfo {
  const cert = new x509.X509Certificate(pemBlocks(certPem)[0] ?? certPem);
  return {
    serial: cert.serialNumber.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^(00)+(?=.)/, ""),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    issuer: cert.issuer,
  };
}
