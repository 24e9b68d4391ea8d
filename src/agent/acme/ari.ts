// ACME Renewal Information (RFC 9773): the certificate's ARI identifier and the CA's suggested
// renewal window.
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
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
  const serial = new Uint8Array(AsnConvert.parse(der, Certificate).tbsCertificate.serialNumber);
  const aki = new x509.X509Certificate(der).getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error("certificate has no Authority Key Identifier: ARI cannot name it");
  return `${b64url(Buffer.from(aki.keyId, "hex"))}.${b64url(serial)}`;
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
