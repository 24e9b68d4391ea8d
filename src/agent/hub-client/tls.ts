// TLS towards the hub. Two modes, never "accept any certificate":
// - no pin: Bun's fetch with the system trust store (plus NODE_EXTRA_CA_CERTS).
// - pinned ("sha256:<hex of the DER certificate>", for self-signed hubs): at join the agent
//   reads the certificate the hub presents, compares its fingerprint, and stores it. Every
//   request then trusts that certificate (plus the system roots, so a pinned CA-issued
//   certificate also validates) and checkServerIdentity accepts exactly the pinned
//   fingerprint — whatever host name the agent uses to reach the hub.
// Verified on Bun 1.4.5: with rejectUnauthorized:false Bun never calls checkServerIdentity,
// so that combination would accept anything; it is not used here.
import { rootCertificates, connect, type PeerCertificate } from "node:tls";
import { fingerprintOfDer } from "../../protocol/fingerprint";
import { HubClientError, PIN_MISMATCH_MARK, classifyFetchError } from "./errors";

/** Reads the hub's certificate over a raw TLS connection and checks it against the pin. */
export async function fetchPinnedCertificate(baseUrl: string, fingerprint: string, timeoutMs = 10_000): Promise<string> {
  const u = new URL(baseUrl);
  const port = Number(u.port || 443);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const cert = await new Promise<PeerCertificate>((resolve, reject) => {
    // Verification is done below by fingerprint; this connection sends no data.
    const socket = connect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new HubClientError("unreachable", `hub at ${baseUrl} did not complete a TLS handshake in time`));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(false);
      socket.destroy();
      if (!peer?.raw) reject(new HubClientError("tls", "the hub presented no certificate"));
      else resolve(peer);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(classifyFetchError(err, baseUrl));
    });
  });
  const actual = fingerprintOfDer(cert.raw);
  if (actual !== fingerprint) {
    throw new HubClientError("fingerprint-mismatch", `${PIN_MISMATCH_MARK}: expected ${fingerprint}, the hub presented ${actual}`);
  }
  return derToPem(cert.raw);
}

function derToPem(der: Buffer): string {
  const b64 = der.toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The `tls` option for Bun's fetch. */
export function fetchTlsOptions(pin: { fingerprint: string | null; pem: string | null }): Record<string, unknown> | undefined {
  if (!pin.fingerprint || !pin.pem) return undefined;
  const expected = pin.fingerprint;
  return {
    ca: [...rootCertificates, pin.pem],
    checkServerIdentity: (_host: string, cert: { raw?: Uint8Array }) => {
      const actual = cert?.raw ? fingerprintOfDer(cert.raw) : "none";
      return actual === expected ? undefined : new Error(`${PIN_MISMATCH_MARK}: expected ${expected}, the hub presented ${actual}`);
    },
  };
}
