// Identifiers and typed secrets. Prefixes make leaked values greppable
// (e.g. secret scanners can match `chub_sk_`).
import { randomToken } from "./crypto";

export const SECRET_PREFIX = {
  clientId: "chub_id_", // API token / joining key client id (not secret)
  clientSecret: "chub_sk_", // API token / joining key secret (160 bits)
  session: "chub_sess_", // admin session cookie
  localApi: "chub_local_", // agent local API bearer token
} as const;

/** Short random id for rows (80 bits, base32). */
export function newId(prefix = ""): string {
  return prefix + randomToken(10);
}

export function newClientId(): string {
  return SECRET_PREFIX.clientId + randomToken(10);
}

export function newClientSecret(): string {
  return SECRET_PREFIX.clientSecret + randomToken(20);
}
