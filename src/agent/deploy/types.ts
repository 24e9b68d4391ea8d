// Types and small helpers shared by the deployment runner (index.ts) and the task modules.
import type { CredentialForAgent } from "../../protocol/certificates";

/** The certificate a deployment works with; keyPem never leaves this host. */
export interface DeployableCertificate {
  id: string;
  name: string;
  domains: string[];
  /** Lowercase hex, no separators (the contract's serial format). */
  serial: string;
  notBefore: number;
  notAfter: number;
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  keyPem: string;
  /**
   * Optional: where the agent keeps this certificate's own copy (its data dir). Script tasks get
   * these paths in their environment when no PEM task ran before them in the same run.
   */
  files?: Partial<DeployedPaths>;
}

export interface DeployContext {
  credentials: Map<string, CredentialForAgent>;
  allowScripts: boolean;
  log: (msg: string) => void;
  instanceId?: string;
  signal?: AbortSignal;
}

/** What happened to the certificate; decides which tasks run (see triggerMatches in index.ts). */
export type DeployOutcome = "success" | "failure" | "manual";

export interface TaskResult {
  index: number;
  type: string;
  name?: string;
  lastResult: { at: number; outcome: "succeeded" | "failed" | "skipped"; message: string; ms?: number; output?: string };
  /** The last "Test task" run of this task alone; kept across deployments (index.ts mergeTaskResults). */
  lastTest?: TaskResult["lastResult"] | null;
}

/** Files written earlier in this run, handed to later tasks (script environment). */
export interface DeployedPaths {
  cert: string;
  key: string;
  chain: string;
  fullchain: string;
  pfx?: string;
}

/** Everything a task runner gets. */
export interface TaskRun {
  cert: DeployableCertificate | null;
  outcome: DeployOutcome;
  ctx: DeployContext;
  /** Paths written by earlier tasks of this run (mutable: pem/pfx tasks add to it). */
  paths: Partial<DeployedPaths>;
  signal: AbortSignal;
}

/** A task's own report; the runner adds time, duration and index. */
export interface TaskOutput {
  message: string;
  output?: string;
}

/** A task failure with an optional output tail (script/service output, webhook response). */
export class TaskError extends Error {
  constructor(message: string, readonly output?: string) {
    super(message);
  }
}

/** A task that could not apply here (e.g. no certificate yet): reported as "skipped". */
export class TaskSkipped extends Error {}

/** The last `max` characters of a command's output. */
export function tail(text: string, max = 4000): string {
  return text.length <= max ? text : "…" + text.slice(text.length - max + 1);
}

/** Parses an octal mode string from a task ("0640" or "640"). */
export function parseMode(mode: string | undefined): number | undefined {
  return mode === undefined ? undefined : parseInt(mode, 8);
}

/** The certificate, or a "skipped" result for tasks that need one when there is none. */
export function requireCert(run: TaskRun): DeployableCertificate {
  if (!run.cert) throw new TaskSkipped("no certificate to deploy yet");
  return run.cert;
}

/**
 * The secret value of a stored credential: `password` or `token` (the contract: "keyed by the
 * credential's secret value"). Never logged or put in a message.
 */
export function credentialSecret(cred: CredentialForAgent | undefined, id: string, what: string): string {
  if (!cred) throw new TaskError(`stored credential ${id} (the ${what}) is not available on this agent`);
  const value = cred.secret.password ?? cred.secret.token;
  if (!value) throw new TaskError(`stored credential ${id} (type ${cred.type}) has no password or token to use as the ${what}`);
  return value;
}
