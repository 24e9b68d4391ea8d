// POST /api/agent/v1/sync: heartbeat, results, certificates → config, commands (204 = nothing
// new). The hub builds SyncResponse; the agent accepts it through SyncResponseSchema.
import { z } from "zod";
import { AccountReportSchema, CertificateReportSchema, ExternalManagerReportSchema, type InstanceConfig } from "./certificates";
import { CommandResultSchema, CommandSchema, type Command } from "./commands";
import { counter, FactsSchema } from "./common";

export { CERT_SOURCES, CERT_STATUSES, CertificateReportSchema, type CertificateReport } from "./certificates";

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

/** The /sync answer as the agent accepts it; `config` is checked separately (InstanceConfigSchema) so one bad definition is reported, not fatal. */
export const SyncResponseSchema = z.object({
  syncIntervalSeconds: z.number().int().min(1).max(86_400).optional(),
  config: z.unknown().optional(),
  commands: z.array(CommandSchema).max(1000).optional(),
  ackResults: z.array(z.string().max(64)).max(1000).optional(),
  certificatesHash: z.string().max(128).optional(),
  needCertificates: z.boolean().optional(),
  resetCursor: z.number().int().nonnegative().optional(),
  rekey: z.boolean().optional(),
  identityConflict: z.boolean().optional(),
});
