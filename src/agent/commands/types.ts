// What a command handler gets and returns. A handler returns the result the hub will see; it
// never throws for expected outcomes (refusals, nothing to do).
import type { CertificateLifecycle } from "../certificates/lifecycle";
import type { ExternalScanner } from "../certificates/external-scan";
import type { AgentStore } from "../db/store";

export interface HandlerContext {
  store: AgentStore;
  allowScripts: boolean;
  log: (msg: string) => void;
  /** Absent in an agent built without certificate management (tests of the executor alone). */
  certificates?: CertificateLifecycle;
  external?: ExternalScanner;
}

export interface HandlerResult {
  status: "succeeded" | "failed" | "rejected";
  message: string;
  data?: unknown;
}

export type Handler = (payload: unknown, ctx: HandlerContext) => Promise<HandlerResult>;

/** A zod error as one short line for the hub. */
export function payloadError(expected: string): HandlerResult {
  return { status: "rejected", message: `invalid payload: expected ${expected}` };
}
