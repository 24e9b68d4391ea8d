// What every challenge solver shares (types and the two RFC 8555 encodings), apart from the
// registry in index.ts so that solvers do not import the module that imports them.
import { createHash } from "node:crypto";
import type { CredentialForAgent } from "../../../protocol/certificates";
import { b64url } from "../b64";

export interface SolverContext {
  credentials: Map<string, CredentialForAgent>;
  allowScripts: boolean;
  log: (msg: string) => void;
  /** "host:port" of a DNS server to resolve names with instead of the system's (tests, split DNS). */
  dnsResolver?: string;
}

export interface ChallengeTask {
  /** The identifier without any "*." (a wildcard's authz names its base domain). */
  domain: string;
  token: string;
  keyAuthorization: string;
}

export interface Presented {
  waitReady(signal?: AbortSignal): Promise<void>;
  cleanup(): Promise<void>;
}

export interface Solver {
  type: "http-01" | "dns-01";
  present(task: ChallengeTask, signal?: AbortSignal): Promise<Presented>;
}

/** RFC 8555 tokens are base64url; anything else must not reach a file path or URL. */
export function checkToken(token: string): string {
  if (!/^[A-Za-z0-9_-]{16,256}$/.test(token)) throw new Error("ACME server sent a malformed challenge token");
  return token;
}

export const dns01Name = (domain: string) => `_acme-challenge.${domain.replace(/^\*\./, "").replace(/\.$/, "")}.`;
export const dns01Value = (keyAuthorization: string) => b64url(createHash("sha256").update(keyAuthorization).digest());
