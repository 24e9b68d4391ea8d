// Hub <-> agent wire protocol: every body either side sends is validated against these
// schemas (zod 4). The agent only ever connects outbound; the hub never calls the agent.
//
//   POST /api/agent/v1/join    join key (client id + secret) + new Ed25519 public key → instance id
//   POST /api/agent/v1/sync    heartbeat, results, certificates → settings, commands (204 = nothing new)
//   POST /api/agent/v1/wait    long-poll: answers {nudge:true} as soon as a command is queued
//   POST /api/agent/v1/rekey   after an admin "reset identity": replace the instance key
//   POST /api/agent/v1/leave   the agent leaves; the hub forgets the instance
//
// Every request except join is signed with the instance key (see signing.ts); join is signed
// with the key being registered, which proves the agent holds the private half.
import { z } from "zod";
import { AccountReportSchema, CertificateReportSchema, epochMs, ExternalManagerReportSchema, type InstanceConfig } from "./certificates";

export const AGENT_API_PREFIX = "/api/agent/v1";
export const PROTOCOL_VERSION = 1;

/** Body size limits per endpoint (bytes), enforced by the hub before parsing. */
export const BODY_LIMITS = {
  join: 16 * 1024,
  sync: 2 * 1024 * 1024, // certificate lists of large hosts
  small: 16 * 1024,
} as const;

const shortText = (max = 255) => z.string().trim().min(1).max(max);

// Bounds on every number an agent reports (security review #3): a value the hub stores is one
// it can render and compare. Counters (sequences, cursors, versions) stay far below 2^53;
// times use epochMs (2000 … 2200) from certificates.ts.
/** Largest sequence / cursor / version accepted on the wire (about 1.1e12). */
export const MAX_COUNTER = 2 ** 40;
const counter = z.number().int().nonnegative().max(MAX_COUNTER);
/**
 * Serialized size limit of a command result's `data` (the message has its own 4000). Generous:
 * a refused result would stay in the agent's outbox, so this must exceed what agents send
 * (deploy results ≤ ~200 KB, an external scan's problems ≤ ~500 KB).
 */
export const MAX_RESULT_DATA_BYTES = 1024 * 1024;
const resultData = z.unknown().refine((v) => v === undefined || jsonSize(v) <= MAX_RESULT_DATA_BYTES, {
  message: `result data must serialize to at most ${MAX_RESULT_DATA_BYTES} bytes of JSON`,
});

/** UTF-8 bytes of JSON.stringify(v); Infinity when it cannot be serialized. */
function jsonSize(v: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(v) ?? "").length;
  } catch {
    return Infinity;
  }
}
const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, "invalid id");

/** Raw 32-byte Ed25519 public key, base64url without padding. */
export const PublicKeySchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "expected a base64url Ed25519 public key");

export const FactsSchema = z.object({
  hostname: shortText(253),
  os: shortText(64),
  arch: shortText(32),
  version: shortText(64),
  /** SHA-256 of the OS machine id salted with "certhub"; a hint for clone detection only. */
  machineId: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** The host admin's script policy (--allow-scripts): the hub refuses run-script when false. */
  allowScripts: z.boolean().optional(),
});
export type Facts = z.infer<typeof FactsSchema>;

export const JoinRequestSchema = z.object({
  clientId: shortText(128),
  secret: shortText(256),
  publicKey: PublicKeySchema,
  facts: FactsSchema,
});
export type JoinRequest = z.infer<typeof JoinRequestSchema>;

export interface JoinResponse {
  instanceId: string;
  group: string | null;
  syncIntervalSeconds: number;
  hubVersion: string;
}

export { CERT_SOURCES, CERT_STATUSES, CertificateReportSchema, type CertificateReport } from "./certificates";

export const COMMAND_TYPES = ["renew-now", "update-settings", "refresh-external-scan", "ping", "run-script", "renew-certificate", "test-certificate", "deploy-certificate"] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];
export const CommandTypeSchema = z.enum(COMMAND_TYPES);

/** A command as the hub delivers it. `id` is the idempotency key the agent dedupes on. */
export const CommandSchema = z.object({
  id,
  seq: counter.positive(),
  type: z.string().min(1).max(64), // unknown types are answered "rejected", not dropped
  payload: z.unknown(),
  createdAt: z.number().int(),
});
export type Command = z.infer<typeof CommandSchema>;

export const RESULT_STATUSES = ["succeeded", "failed", "rejected"] as const;
export const CommandResultSchema = z.object({
  commandId: id,
  seq: counter.positive(),
  status: z.enum(RESULT_STATUSES),
  /** Human-readable outcome; details in `data`. */
  message: z.string().max(4000),
  data: resultData.optional(),
  completedAt: epochMs,
});
export type CommandResult = z.infer<typeof CommandResultSchema>;

export const SyncRequestSchema = z.object({
  /** Settings version the agent holds; the hub sends settings only when it differs. */
  settingsVersion: counter,
  /** Highest command seq the agent has stored; the hub sends commands after it. */
  cursor: counter,
  results: z.array(CommandResultSchema).max(200).optional(),
  /** Hash of the agent's certificate list; the full list is sent only when it changed. */
  certificatesHash: z.string().max(128).optional(),
  certificates: z.array(CertificateReportSchema).max(10_000).optional(),
  /** CA account registration state; sent with the certificate list (same hash). */
  accounts: z.array(AccountReportSchema).max(1000).optional(),
  /** External ACME client scan state; sent with the certificate list (same hash). */
  externalManagers: z.array(ExternalManagerReportSchema).max(10).optional(),
  /** Sent on the first sync of each agent process and whenever they change. */
  facts: FactsSchema.optional(),
});
export type SyncRequest = z.infer<typeof SyncRequestSchema>;

/** 200 body of /sync. A 204 (no body) means: nothing changed, nothing to do. */
export interface SyncResponse {
  syncIntervalSeconds: number;
  /** Sent when the agent's settings version differs: the instance's whole configuration. */
  config?: InstanceConfig;
  commands?: Command[];
  /** Result command ids the hub stored; the agent drops them from its outbox. */
  ackResults?: string[];
  /** The certificate hash the hub now holds. */
  certificatesHash?: string;
  /** The hub's certificate hash differs and no list came: send the full list. */
  needCertificates?: boolean;
  /** The agent's cursor is ahead of the hub (hub restored from a backup): continue from here. */
  resetCursor?: number;
  /** An admin reset this identity: call /rekey. */
  rekey?: boolean;
  /** Two processes present this identity; commands are held until an admin resets it. */
  identityConflict?: boolean;
}

export const WaitRequestSchema = z.object({
  cursor: counter,
  settingsVersion: counter,
  timeoutSeconds: z.number().int().min(1).max(60).optional(),
});
export type WaitRequest = z.infer<typeof WaitRequestSchema>;
export interface WaitResponse {
  /** true: something is waiting (commands, settings, rekey) — sync now. */
  nudge: boolean;
}

export const RekeyRequestSchema = z.object({
  newPublicKey: PublicKeySchema,
  facts: FactsSchema.optional(),
});
export type RekeyRequest = z.infer<typeof RekeyRequestSchema>;
export interface RekeyResponse {
  instanceId: string;
  /** false: this process presented the retired key, so it became a new instance. */
  keptInstance: boolean;
}

export const LeaveRequestSchema = z.object({}).strict();

/** Machine-readable error codes next to the human `error` message. */
export const ERROR_CODES = [
  "bad-request",
  "invalid-credentials",
  "key-revoked",
  "key-expired",
  "key-retired",
  "key-used-up",
  "key-wrong-role",
  "key-disabled",
  "rate-limited",
  "bad-signature",
  "clock-skew",
  "instance-unknown",
  "instance-revoked",
  "replay",
  "rekey-required",
  "not-pending",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: string;
  code?: ErrorCode;
}

/** Codes after which the agent must stop talking to the hub until something changes. */
export const CUT_OFF_CODES: ReadonlySet<string> = new Set(["key-revoked", "instance-revoked", "key-disabled"]);
