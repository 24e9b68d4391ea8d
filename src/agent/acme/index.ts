// The agent's ACME client (RFC 8555 + ARI RFC 9773 + profiles): the public surface the rest of
// the agent uses. Everything else in this folder is an implementation detail.
import type { Challenge, CredentialForAgent, KeyType } from "../../protocol/certificates";

export type { KeyType, Challenge, CredentialForAgent } from "../../protocol/certificates";

/** An ACME problem document (RFC 8555 §6.7); message is the CA's own detail text. */
export class AcmeProblem extends Error {
  type: string;
  status: number;
  detail: string;
  subproblems?: unknown[];
  constructor(p: { type: string; status: number; detail: string; subproblems?: unknown[] }) {
    super(p.detail);
    this.name = "AcmeProblem";
    this.type = p.type;
    this.status = p.status;
    this.detail = p.detail;
    this.subproblems = p.subproblems;
  }
}

export interface SolverContext {
  credentials: Map<string, CredentialForAgent>;
  allowScripts: boolean;
  log: (msg: string) => void;
}
export interface AccountKey { accountUrl: string; keyJwk: JsonWebKey }
export interface StepReport {
  name: "preflight" | "account" | "order" | "challenge" | "finalize" | "download";
  outcome: "ok" | "failed" | "skipped";
  ms: number;
  domain?: string;
  message?: string;
}
export interface IssuedCertificate {
  keyPem: string; certPem: string; chainPem: string; fullchainPem: string;
  serial: string; notBefore: number; notAfter: number; issuer: string; ariCertId: string | null;
}
export interface RenewalWindow { start: number; end: number; retryAfterMs: number | null; explanationUrl?: string }

const notYet = () => { throw new Error("ACME client: not implemented yet"); };
export async function ensureAccount(_opts: { directoryUrl: string; trustedRootsPem?: string; email?: string; eab?: { keyId: string; hmacKey: string }; existing?: AccountKey | null; signal?: AbortSignal }): Promise<AccountKey> { return notYet(); }
export async function issueCertificate(_opts: { directoryUrl: string; trustedRootsPem?: string; account: AccountKey; domains: string[]; keyType: KeyType; challenge: Challenge; ctx: SolverContext; replaces?: string; profile?: string; preferredChain?: string; onStep?: (s: StepReport) => void; signal?: AbortSignal; keyPem?: string }): Promise<IssuedCertificate> { return notYet(); }
export async function getRenewalInfo(_opts: { directoryUrl: string; trustedRootsPem?: string; certPem: string; signal?: AbortSignal }): Promise<RenewalWindow | null> { return notYet(); }
export function ariCertId(_certPem: string): string { return notYet(); }
export async function preflight(_opts: { domains: string[]; challenge: Challenge; ctx: SolverContext; signal?: AbortSignal }): Promise<StepReport[]> { return notYet(); }
