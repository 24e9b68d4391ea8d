// The agent's ACME client (RFC 8555 + ARI RFC 9773 + profiles): the public surface the rest of
// the agent uses. The rest of this folder is implementation: client.ts (transport), jws.ts,
// account.ts, order.ts, keys.ts, ari.ts, chains.ts, preflight.ts and challenges/.
export type { KeyType, Challenge, CredentialForAgent } from "../../protocol/certificates";
export { AcmeProblem } from "./problem";
export { AcmeConnectionError } from "./client";
export type { SolverContext } from "./challenges/index";
export type { AccountKey, EnsureAccountOptions } from "./account";
export type { StepReport, IssuedCertificate, IssueOptions } from "./order";
export type { RenewalWindow } from "./ari";
export type { PreflightOptions } from "./preflight";
export { ensureAccount } from "./account";
export { issueCertificate, checkDomains } from "./order";
export { getRenewalInfo, ariCertId } from "./ari";
export { preflight } from "./preflight";
