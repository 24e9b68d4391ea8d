// Post-deploy verification: connect to host:port with TLS (SNI = the certificate's first domain;
// without a host, the first non-wildcard domain on 443 is both the host and the SNI, verifyTarget),
// read the leaf certificate the server actually serves and compare its serial with the one just
// deployed. "served" = the new certificate is live; "stale" = something else (usually the old
// certificate: the service did not reload); "unreachable" = no TLS handshake within the timeout.
// Trust is not checked unless caPem is given: the question is which certificate is served, and
// a private or not-yet-trusted CA must not turn that answer into "unreachable".
import { connect, type ConnectionOptions } from "node:tls";
import { isIP } from "node:net";
import { defaultVerifyHost } from "../../protocol/certificates";

export type ServedState = "served" | "stale" | "unreachable";

/** Where the check connects: host, port, the SNI name, and how to say it in a result. */
export interface VerifyTarget {
  host: string;
  port: number;
  servername: string;
  /** e.g. "www.example.com:443 (first domain, SNI www.example.com)". */
  label: string;
}

/**
 * The check's target for a certificate. Without a host it is the first domain that is not a
 * wildcard, on the given port (443 by default), SNI = that name. A certificate whose domains are
 * all wildcards has no name to connect to: that is an error telling the admin to give a host.
 */
export function verifyTarget(verify: { host?: string; port?: number }, domains: readonly string[]): VerifyTarget {
  const port = verify.port ?? 443;
  const host = verify.host?.trim() ?? "";
  if (host) {
    const servername = domains[0] ?? host;
    const sni = sniName(servername);
    return { host, port, servername, label: `${host.includes(":") ? `[${host}]` : host}:${port} (SNI ${sni ?? "none"})` };
  }
  const name = defaultVerifyHost(domains);
  if (!name) {
    throw new Error(`cannot check the served certificate: every domain is a wildcard (${domains.join(", ")}), so there is no name to connect to; set the host to check (verify.host)`);
  }
  const first = name === domains[0] ? "first domain" : `first domain that is not a wildcard`;
  return { host: name, port, servername: name, label: `${name}:${port} (${first}, SNI ${name})` };
}

export interface CheckServedOptions {
  host: string;
  port: number;
  servername: string;
  /** Lowercase hex (any case and leading zeros are tolerated). */
  expectedSerial: string;
  timeoutMs?: number;
  /** Trust exactly these roots and require a valid chain; a failed validation is "unreachable". */
  caPem?: string;
}

export async function checkServed(opts: CheckServedOptions): Promise<ServedState> {
  const served = await servedSerial(opts).catch(() => null);
  if (served === null) return "unreachable";
  return normalizeSerial(served) === normalizeSerial(opts.expectedSerial) ? "served" : "stale";
}

/** The serial (hex) of the leaf certificate served at host:port, or throws. */
export function servedSerial(opts: Omit<CheckServedOptions, "expectedSerial">): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const servername = sniName(opts.servername);
  const tlsOpts: ConnectionOptions = {
    host: opts.host,
    port: opts.port,
    ...(servername ? { servername } : {}),
    ALPNProtocols: ["http/1.1"],
    ...(opts.caPem ? { ca: opts.caPem, rejectUnauthorized: true, checkServerIdentity: () => undefined } : { rejectUnauthorized: false }),
  };
  return new Promise((resolve, reject) => {
    let done = false;
    const socket = connect(tlsOpts);
    const finish = (err: Error | null, serial?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      err ? reject(err) : resolve(serial!);
    };
    const timer = setTimeout(() => finish(new Error(`no TLS handshake with ${opts.host}:${opts.port} within ${timeoutMs}ms`)), timeoutMs);
    socket.once("secureConnect", () => {
      const x509 = socket.getPeerX509Certificate?.();
      const serial = x509?.serialNumber ?? socket.getPeerCertificate()?.serialNumber;
      serial ? finish(null, serial) : finish(new Error("the server sent no certificate"));
    });
    socket.once("error", (e) => finish(e));
  });
}

/** SNI must be a DNS name: none for IP addresses; a wildcard becomes a name inside it. */
function sniName(name: string): string | undefined {
  if (!name || isIP(name)) return undefined;
  return name.startsWith("*.") ? `certhub-verify.${name.slice(2)}` : name;
}

/** Serials compare as numbers: case, separators and leading zero bytes differ between tools. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^0+(?=.)/, "");
}
