// The agent's own database (<data-dir>/agent.db). Small on purpose: its identity and hub
// link, settings received from the hub, certificate state, the command inbox (dedupe by
// command id = at most once) and the outbox of results the hub has not acknowledged yet.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** At most one row (id = 1): the hub this agent is joined to and its identity there. */
export const hubLink = sqliteTable("hub_link", {
  id: integer("id").primaryKey(),
  url: text("url").notNull(),
  clientId: text("client_id").notNull(), // joining key used (not secret); the secret is never stored
  fingerprint: text("fingerprint"), // "sha256:…" pin of the hub certificate, if any
  pinnedCertPem: text("pinned_cert_pem"), // the pinned certificate itself (trust anchor for TLS)
  instanceId: text("instance_id").notNull(),
  publicKey: text("public_key").notNull(), // base64url raw Ed25519
  privateKey: text("private_key").notNull(), // base64 PKCS#8 DER; never leaves this host
  group: text("group_name"),
  // joined: normal; revoked: the hub cut this instance off; removed: the hub forgot it
  state: text("state", { enum: ["joined", "revoked", "removed"] }).notNull().default("joined"),
  identityConflict: integer("identity_conflict", { mode: "boolean" }).notNull().default(false),
  syncIntervalSeconds: integer("sync_interval_seconds").notNull().default(60),
  settingsVersion: integer("settings_version").notNull().default(0),
  commandCursor: integer("command_cursor").notNull().default(0),
  certificatesHashAcked: text("certificates_hash_acked"),
  /** Sequence numbers below this may have been used: a restart continues from here. */
  seqReserved: integer("seq_reserved").notNull().default(0),
  joinedAt: integer("joined_at").notNull(),
  lastSyncAt: integer("last_sync_at"),
  lastAttemptAt: integer("last_attempt_at"),
  lastError: text("last_error"),
});

/** Settings pushed by the hub (sync) or by update-settings commands. Values are JSON. */
export const agentSettings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  source: text("source", { enum: ["hub", "command"] }).notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Commands received from the hub. A command id is executed at most once, ever. */
export const inbox = sqliteTable("inbox", {
  id: text("id").primaryKey(),
  seq: integer("seq").notNull(),
  type: text("type").notNull(),
  payload: text("payload").notNull(),
  // received → running → done. A "running" row found at start was interrupted: it is
  // reported as failed, never run again.
  status: text("status", { enum: ["received", "running", "done"] }).notNull().default("received"),
  receivedAt: integer("received_at").notNull(),
  startedAt: integer("started_at"),
  completedAt: integer("completed_at"),
}, (t) => [index("inbox_status_seq_idx").on(t.status, t.seq)]);

/** Results waiting for the hub's acknowledgement. */
export const outbox = sqliteTable("outbox", {
  commandId: text("command_id").primaryKey(),
  seq: integer("seq").notNull(),
  status: text("status", { enum: ["succeeded", "failed", "rejected"] }).notNull(),
  message: text("message").notNull(),
  data: text("data"), // JSON
  completedAt: integer("completed_at").notNull(),
});

/** Certificates on this host (managed ones and, later, those of external ACME clients). */
export const agentCertificates = sqliteTable("certificates", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  domains: text("domains").notNull(), // JSON array
  source: text("source").notNull(),
  status: text("status").notNull(),
  notBefore: integer("not_before"),
  notAfter: integer("not_after"),
  serial: text("serial"),
  issuer: text("issuer"),
  lastError: text("last_error"),
  updatedAt: integer("updated_at").notNull(),
});
