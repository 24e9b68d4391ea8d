// ACME Renewal Information (RFC 9773): the certificate's ARI identifier and the CA's suggested
// renewal window.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { z } from "zod";
import { b64url, pemBlocks } from "./b64";
import { AcmeClient, parseRetryAfter, problemFrom } from "./client";

export interface RenewalWindow { start: number; end: number; retryAfterMs: number | null; explanationUrl?: string }

function firstCertDer(certPem: string): ArrayBuffer {
  const block = pemBlocks(certPem)[0];
  if (!block) throw new Error("not a PEM certificate");
  const der = Buffer.from(block.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}

/**
 * certID = base64url(AKI keyIdentifier) "." base64url(serial as DER INTEGER content). The
 * content keeps its leading 0x00 when the top bit is set; @peculiar/x509's serialNumber drops
 * it (and Pebble would not notice), so the raw TBSCertificate field is read instead.
 */
export function ariCertId(certPem: string): string {
  const der = firstCertDer(certPem);
  const serial = serialContent(new Uint8Array(der));
  const aki = new x509.X509Certificate(der).getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error("certificate has no Authority Key Identifier: ARI cannot name it");
  return `${b64url(Buffer.from(aki.keyId, "hex"))}.${b64url(serial)}`;
}

/** Reads one DER TLV header at `off`: tag, content start and content length. */
function tlv(buf: Uint8Array, off: number): { tag: number; start: number; len: number } {
  const tag = buf[off];
  let len = buf[off + 1];
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error("certificate DER: unsupported length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i];
    start += n;
  }
  if (tag === undefined || start + len > buf.length) throw new Error("certificate DER: truncated");
  return { tag, start, len };
}

/** Certificate ::= SEQ { TBSCertificate ::= SEQ { [0] version OPTIONAL, serialNumber INTEGER, … } } */
function serialContent(der: Uint8Array): Uint8Array {
  const cert = tlv(der, 0);
  const tbs = tlv(der, cert.start);
  let field = tlv(der, tbs.start);
  if (field.tag === 0xa0) field = tlv(der, field.start + field.len);
  if (cert.tag !== 0x30 || tbs.tag !== 0x30 || field.tag !== 0x02) throw new Error("not an X.509 certificate");
  return der.subarray(field.start, field.start + field.len);
}

const RenewalInfoSchema = z.object({
  suggestedWindow: z.object({ start: z.string().max(64), end: z.string().max(64) }),
  explanationURL: z.string().max(2048).optional(),
});

/** The CA's suggested window; null when its directory offers no renewalInfo. */
export async function getRenewalInfo(
  opts: { directoryUrl: string; trustedRootsPem?: string; certPem: string; signal?: AbortSignal },
  client = new AcmeClient(opts),
): Promise<RenewalWindow | null> {
  const dir = await client.directory();
  if (!dir.renewalInfo) return null;
  const url = `${dir.renewalInfo.replace(/\/+$/, "")}/${ariCertId(opts.certPem)}`;
  const res = await client.fetch(url, { headers: { accept: "application/json" } });
  if (!res.ok) throw await problemFrom(res);
  const parsed = RenewalInfoSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success) throw new Error(`ACME server sent malformed renewal information from ${url}`);
  const start = Date.parse(parsed.data.suggestedWindow.start);
  const end = Date.parse(parsed.data.suggestedWindow.end);
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) throw new Error(`ACME server sent an invalid renewal window from ${url}`);
  const win: RenewalWindow = { start, end, retryAfterMs: parseRetryAfter(res.headers.get("retry-after")) };
  if (parsed.data.explanationURL) win.explanationUrl = parsed.data.explanationURL;
  return win;
}
