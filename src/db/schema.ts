// Hub database schema. Times are epoch milliseconds (integer) everywhere.
// Tables are laid out for the roadmap too (settings scopes, certificates,
// commands) so later features add rows and columns, not rewrites.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const roles = sqliteTable("roles", {
  id: text("id").primaryKey(), // stable slug: administrator | readonly | managed-instance
  title: text("title").notNull(),
  description: text("description").notNull().default(""),
  builtIn: integer("built_in", { mode: "boolean" }).notNull().default(true),
});

/** A security principal: a person (type "user") or an application/service. */
export const principals = sqliteTable("principals", {
  id: text("id").primaryKey(),
  type: text("type", { enum: ["user", "service"] }).notNull(),
  title: text("title").notNull(),
  description: text("description").notNull().default(""),
  email: text("email"),
  disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Sign-in credentials for principals of type "user". */
export const users = sqliteTable("users", {
  principalId: text("principal_id").primaryKey().references(() => principals.id, { onDelete: "cascade" }),
  username: text("username").notNull(),
  passwordHash: text("password_hash").notNull(), // argon2id (Bun.password)
  passwordChangedAt: integer("password_changed_at").notNull(),
  lastLoginAt: integer("last_login_at"),
}, (t) => [uniqueIndex("users_username_uq").on(sql`lower(${t.username})`)]);

export const principalRoles = sqliteTable("principal_roles", {
  principalId: text("principal_id").notNull().references(() => principals.id, { onDelete: "cascade" }),
  roleId: text("role_id").notNull().references(() => roles.id),
}, (t) => [primaryKey({ columns: [t.principalId, t.roleId] })]);

/**
 * API tokens: client id + hashed secret, owned by a principal, scoped to one role.
 * Tokens scoped to "managed-instance" are joining keys; "administrator"/"readonly"
 * tokens authenticate the JSON admin API with HTTP Basic.
 */
export const apiTokens = sqliteTable("api_tokens", {
  id: text("id").primaryKey(),
  clientId: text("client_id").notNull().unique(),
  secretHash: text("secret_hash").notNull(), // hex SHA-256 of the secret
  principalId: text("principal_id").notNull().references(() => principals.id),
  title: text("title").notNull(),
  roleId: text("role_id").notNull().references(() => roles.id),
  groupName: text("group_name"), // organisation / trust zone of instances joined with it
  expiresAt: integer("expires_at"),
  maxUses: integer("max_uses"),
  useCount: integer("use_count").notNull().default(0),
  // active: works; retired: no new joins, joined instances keep working; revoked: everything cut off
  state: text("state", { enum: ["active", "retired", "revoked"] }).notNull().default("active"),
  revokedAt: integer("revoked_at"),
  lastUsedAt: integer("last_used_at"),
  lastUsedIp: text("last_used_ip"),
  lastInstanceId: text("last_instance_id"),
  createdAt: integer("created_at").notNull(),
  createdBy: text("created_by"),
});

export const sessions = sqliteTable("sessions", {
  idHash: text("id_hash").primaryKey(), // SHA-256 of the cookie value
  principalId: text("principal_id").notNull().references(() => principals.id, { onDelete: "cascade" }),
  csrfToken: text("csrf_token").notNull(),
  createdAt: integer("created_at").notNull(),
  lastSeenAt: integer("last_seen_at").notNull(),
  expiresAt: integer("expires_at").notNull(), // absolute expiry
  ip: text("ip"),
  userAgent: text("user_agent"),
}, (t) => [index("sessions_principal_idx").on(t.principalId)]);

/** A joined agent. Its credential is an Ed25519 public key; the private key never leaves the host. */
export const instances = sqliteTable("instances", {
  id: text("id").primaryKey(),
  hostname: text("hostname").notNull(),
  os: text("os").notNull(),
  arch: text("arch").notNull(),
  version: text("version").notNull(),
  machineId: text("machine_id"), // hint only: hashed /etc/machine-id or IOPlatformUUID
  publicKey: text("public_key").notNull(), // base64url raw Ed25519 key
  retiredPublicKey: text("retired_public_key"), // previous key after an identity reset
  joiningKeyId: text("joining_key_id").references(() => apiTokens.id),
  groupName: text("group_name"),
  // active | revoked (single instance cut off); derived status adds online/offline/conflict
  state: text("state", { enum: ["active", "revoked"] }).notNull().default("active"),
  identityConflict: integer("identity_conflict", { mode: "boolean" }).notNull().default(false),
  identityResetPending: integer("identity_reset_pending", { mode: "boolean" }).notNull().default(false),
  clonedFromId: text("cloned_from_id"),
  lastSeq: integer("last_seq").notNull().default(0),
  lastBootId: text("last_boot_id"),
  lastSeenAt: integer("last_seen_at"),
  lastIp: text("last_ip"),
  syncIntervalSeconds: integer("sync_interval_seconds").notNull().default(60),
  certificatesHash: text("certificates_hash"),
  commandCursor: integer("command_cursor").notNull().default(0), // highest command seq acknowledged
  nextCommandSeq: integer("next_command_seq").notNull().default(1),
  settingsVersion: integer("settings_version").notNull().default(1),
  joinedAt: integer("joined_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  // Admin's name and labels, so two hosts both called "vm" can be told apart (hostname stays the agent's).
  displayName: text("display_name"),
  labels: text("labels", { mode: "json" }).notNull().default([]).$type<string[]>(), // JSON array of short strings (text column)
  // Set by "reinstate": the instance is not online again until the agent has synced after it.
  reinstatedAt: integer("reinstated_at"),
  // As the agent last reported it (null: an agent too old to say); run-script is refused when false.
  allowScripts: integer("allow_scripts", { mode: "boolean" }),
}, (t) => [
  index("instances_joining_key_idx").on(t.joiningKeyId),
  index("instances_public_key_idx").on(t.publicKey), // idempotent join retries
  index("instances_hostname_idx").on(t.hostname, t.id), // list pages: ordered pages without sorting the fleet
]);

/** Commands queued for one instance; delivered in seq order until acknowledged. */
export const commands = sqliteTable("commands", {
  id: text("id").primaryKey(), // idempotency id, also used by the agent
  instanceId: text("instance_id").notNull().references(() => instances.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  type: text("type").notNull(),
  payload: text("payload", { mode: "json" }).notNull().default({}).$type<unknown>(), // JSON (text column)
  status: text("status", { enum: ["queued", "delivered", "succeeded", "failed", "rejected"] }).notNull().default("queued"),
  result: text("result"), // JSON reported by the agent
  createdAt: integer("created_at").notNull(),
  createdBy: text("created_by"),
  deliveredAt: integer("delivered_at"),
  completedAt: integer("completed_at"),
}, (t) => [uniqueIndex("commands_instance_seq_uq").on(t.instanceId, t.seq)]);

/** Certificates an instance reports: managed ones and those of external ACME clients. */
export const certificates = sqliteTable("certificates", {
  instanceId: text("instance_id").notNull().references(() => instances.id, { onDelete: "cascade" }),
  id: text("id").notNull(), // agent-side id, unique per instance
  name: text("name").notNull(),
  domains: text("domains").notNull(), // JSON array
  source: text("source").notNull(), // "managed" | certbot | acme.sh | posh-acme | simple-acme | win-acme
  status: text("status").notNull(), // pending | valid | renewing | failed | expiring | expired
  notBefore: integer("not_before"),
  notAfter: integer("not_after"),
  serial: text("serial"),
  issuer: text("issuer"),
  lastError: text("last_error"),
  updatedAt: integer("updated_at").notNull(),
  // Managed certificates: the renewal plan and the definition revision the report reflects.
  nextRenewalAt: integer("next_renewal_at"),
  renewalReason: text("renewal_reason"),
  failureCount: integer("failure_count").notNull().default(0),
  served: text("served"), // served | stale | unreachable (null without a verify target)
  revision: integer("revision"),
  /** Everything shown only on the detail view: attempts, deployment results, external paths. */
  detail: text("detail", { mode: "json" }).$type<CertificateDetail>(),
}, (t) => [primaryKey({ columns: [t.instanceId, t.id] }), index("certificates_not_after_idx").on(t.notAfter)]);

export interface CertificateDetail {
  attempts?: unknown[];
  deployments?: unknown[];
  paths?: Record<string, string>;
  identifier?: string;
}

/**
 * Stored credentials (named secrets). Only AES-256-GCM ciphertext is stored, under a key kept
 * outside the database (src/hub/encryption-key.ts): a copy of hub.db alone reveals nothing.
 */
export const credentials = sqliteTable("credentials", {
  id: text("id").primaryKey(),
  title: text("title").notNull(),
  type: text("type").notNull(), // api-token | username-password | password | tsig | eab
  scope: text("scope", { enum: ["global", "group", "instance"] }).notNull(),
  scopeId: text("scope_id").notNull().default(""),
  ciphertext: text("ciphertext").notNull(), // see src/lib/aead.ts
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  createdBy: text("created_by"),
}, (t) => [index("credentials_scope_idx").on(t.scope, t.scopeId)]);

/** ACME CA accounts: where and as whom the agents register (each agent makes its own key). */
export const caAccounts = sqliteTable("ca_accounts", {
  id: text("id").primaryKey(),
  title: text("title").notNull(),
  directoryUrl: text("directory_url").notNull(),
  email: text("email"),
  scope: text("scope", { enum: ["global", "group", "instance"] }).notNull(),
  scopeId: text("scope_id").notNull().default(""),
  trustedRootsPem: text("trusted_roots_pem"),
  eabCredentialId: text("eab_credential_id"), // a credential of type "eab"
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
}, (t) => [index("ca_accounts_scope_idx").on(t.scope, t.scopeId)]);

/** Certificate definitions made on the hub for one instance; the agent issues and renews them. */
export const managedCertificates = sqliteTable("managed_certificates", {
  id: text("id").primaryKey(),
  instanceId: text("instance_id").notNull().references(() => instances.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  domains: text("domains", { mode: "json" }).notNull().$type<string[]>(),
  caAccountId: text("ca_account_id").notNull(),
  keyType: text("key_type").notNull(),
  challenge: text("challenge", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  deployments: text("deployments", { mode: "json" }).notNull().$type<Record<string, unknown>[]>(),
  verify: text("verify", { mode: "json" }).$type<{ host: string; port: number } | null>(),
  renewal: text("renewal", { mode: "json" }).$type<Record<string, unknown> | null>(),
  preferredChain: text("preferred_chain"),
  profile: text("profile"),
  /** Ids of the stored credentials the challenge and deployments name (kept for look-ups). */
  credentialIds: text("credential_ids", { mode: "json" }).notNull().$type<string[]>(),
  revision: integer("revision").notNull().default(1),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
}, (t) => [index("managed_certificates_instance_idx").on(t.instanceId), index("managed_certificates_ca_idx").on(t.caAccountId)]);

/** Per instance and CA account: did the agent register its account key (as it last reported)? */
export const accountRegistrations = sqliteTable("account_registrations", {
  instanceId: text("instance_id").notNull().references(() => instances.id, { onDelete: "cascade" }),
  caAccountId: text("ca_account_id").notNull(),
  status: text("status", { enum: ["registered", "error", "pending"] }).notNull(),
  message: text("message"),
  accountUrl: text("account_url"),
  at: integer("at").notNull(),
}, (t) => [primaryKey({ columns: [t.instanceId, t.caAccountId] })]);

/** Per instance and external ACME client: the agent's last scan. */
export const externalManagers = sqliteTable("external_managers", {
  instanceId: text("instance_id").notNull().references(() => instances.id, { onDelete: "cascade" }),
  name: text("name").notNull(), // certbot | acme.sh | posh-acme | simple-acme | win-acme
  status: text("status", { enum: ["ok", "not-found", "disabled", "error"] }).notNull(),
  configPath: text("config_path"),
  certificateCount: integer("certificate_count").notNull().default(0),
  scannedAt: integer("scanned_at"),
  problems: text("problems", { mode: "json" }).notNull().$type<string[]>(),
}, (t) => [primaryKey({ columns: [t.instanceId, t.name] })]);

/**
 * Settings at three scopes (roadmap): scope "global" (scopeId ""), "group" (group name)
 * or "instance" (instance id). Values are JSON; the effective value is resolved per instance.
 */
export const settings = sqliteTable("settings", {
  scope: text("scope", { enum: ["global", "group", "instance"] }).notNull(),
  scopeId: text("scope_id").notNull().default(""),
  key: text("key").notNull(),
  value: text("value", { mode: "json" }).notNull().$type<unknown>(), // JSON (text column)
  updatedAt: integer("updated_at").notNull(),
  updatedBy: text("updated_by"),
}, (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.key] })]);

export const auditLog = sqliteTable("audit_log", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  actorId: text("actor_id"), // principal id, or null for the system / CLI
  actorLabel: text("actor_label").notNull(), // username, "cli", "system", instance hostname
  action: text("action").notNull(), // e.g. login.success, token.create, instance.revoke
  targetType: text("target_type"),
  targetId: text("target_id"),
  outcome: text("outcome", { enum: ["success", "failure"] }).notNull().default("success"),
  ip: text("ip"),
  detail: text("detail"), // JSON
}, (t) => [index("audit_at_idx").on(t.at), index("audit_action_idx").on(t.action)]);

/** Small key/value store for hub-wide facts (bootstrap done, TLS fingerprint, …). */
export const hubMeta = sqliteTable("hub_meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});
