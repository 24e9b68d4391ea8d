// The agent's own database (<data-dir>/agent.db). Small on purpose: its identity and hub
// link, settings and the instance config received from the hub, managed certificate state,
// CA account keys, the external scan cache, the command inbox (dedupe by
// command id = at most once) and the outbox of results the hub has not acknowledged yet.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

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

/** Managed certificates: the definition as received plus the agent's lifecycle state. Only the
 * pointer columns (currentDir/previousDir) name files on disk; a version directory that no row
 * points at is a leftover of an interrupted order and is removed at start. */
export const agentCertificates = sqliteTable("certificates", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  domains: text("domains").notNull(), // JSON array
  source: text("source").notNull(),
  status: text("status").notNull(), // pending | valid | renewing | failed (expiring/expired are derived from notAfter)
  notBefore: integer("not_before"),
  notAfter: integer("not_after"),
  serial: text("serial"),
  issuer: text("issuer"),
  lastError: text("last_error"),
  updatedAt: integer("updated_at").notNull(),
  /** ManagedCertificateSpec JSON as last received (no secrets). */
  spec: text("spec"),
  revision: integer("revision"),
  /** Hash of what decides the certificate's content (domains, key type, CA, challenge, profile)
   * the current version was ordered with; a different hash means: order again. */
  orderedKey: text("ordered_key"),
  nextRenewalAt: integer("next_renewal_at"),
  renewalReason: text("renewal_reason"),
  failureCount: integer("failure_count").notNull().default(0),
  attempts: text("attempts").notNull().default("[]"), // JSON Attempt[], newest first, at most 20
  deployments: text("deployments").notNull().default("[]"), // JSON DeploymentResult[]
  served: text("served"),
  /** Version directory names under <data-dir>/certificates/<id>/ (the serial). */
  currentDir: text("current_dir"),
  previousDir: text("previous_dir"),
  /** RFC 9773 certificate id of the current version (for ARI and `replaces`). */
  ariCertId: text("ari_cert_id"),
  /** Last ARI window {start,end} and when to ask again. */
  ariWindow: text("ari_window"),
  ariFetchAt: integer("ari_fetch_at"),
  /** The hub asked to order now, whatever the plan or preflight says. */
  forceOrder: integer("force_order", { mode: "boolean" }).notNull().default(false),
  /** Set while an order runs ({at, kind}); found set at start = the process died mid-order. */
  orderStartedAt: integer("order_started_at"),
  /** A new version is stored but its deployment tasks have not finished: run them (again). */
  deployPending: integer("deploy_pending", { mode: "boolean" }).notNull().default(false),
});

/** ACME account keys per (CA account, directory URL). The private JWK never leaves this file. */
export const caAccountKeys = sqliteTable("ca_account_keys", {
  caAccountId: text("ca_account_id").notNull(),
  directoryUrl: text("directory_url").notNull(),
  accountUrl: text("account_url"),
  keyJwk: text("key_jwk"), // JSON private JWK
  status: text("status", { enum: ["registered", "error", "pending"] }).notNull(),
  message: text("message"),
  updatedAt: integer("updated_at").notNull(),
}, (t) => [primaryKey({ columns: [t.caAccountId, t.directoryUrl] })]);

/** The last InstanceConfig received from the hub (id = 1), validated JSON. Holds the stored
 * credentials the hub sent for this instance's certificates (the file is 0600). */
export const instanceConfig = sqliteTable("instance_config", {
  id: integer("id").primaryKey(),
  version: integer("version").notNull(),
  config: text("config").notNull(),
  receivedAt: integer("received_at").notNull(),
});

/** Cache of the last external ACME client scan (id = 1). */
export const externalScan = sqliteTable("external_scan", {
  id: integer("id").primaryKey(),
  certificates: text("certificates").notNull(), // JSON CertificateReport[]
  managers: text("managers").notNull(), // JSON ExternalManagerReport[]
  scannedAt: integer("scanned_at").notNull(),
});
