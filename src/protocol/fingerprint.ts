// Hub certificate fingerprints ("sha256:<hex of the DER certificate>"), as the hub prints
// them at start. Accepts the forms people paste: upper case, colon-separated, no prefix.
import { createHash } from "node:crypto";

export function normalizeFingerprint(input: string): string | null {
  const hex = input.trim().replace(/^sha-?256[:=]?/i, "").replace(/[:\s]/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : null;
}

export function fingerprintOfDer(der: Uint8Array): string {
  return `sha256:${createHash("sha256").update(der).digest("hex")}`;
}
