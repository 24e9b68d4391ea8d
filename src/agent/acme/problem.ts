// AcmeProblem: an RFC 8555 §6.7 problem document turned into an Error whose message is the CA's
// own words, so the hub can show exactly what the CA said.
export class AcmeProblem extends Error {
  type: string;
  status: number;
  detail: string;
  subproblems?: unknown[];
  /** From a Retry-After header on 429/503, when the CA sent one. */
  retryAfterMs?: number;
  constructor(p: { type: string; status: number; detail: string; subproblems?: unknown[]; retryAfterMs?: number }) {
    super(p.detail);
    this.name = "AcmeProblem";
    this.type = p.type;
    this.status = p.status;
    this.detail = p.detail;
    if (p.subproblems) this.subproblems = p.subproblems;
    if (p.retryAfterMs !== undefined) this.retryAfterMs = p.retryAfterMs;
  }
  /** True for `urn:ietf:params:acme:error:<short>`. */
  is(short: string): boolean {
    return this.type === `urn:ietf:params:acme:error:${short}`;
  }
}
