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
  payload: text("payload").notNull().default("{}"), // JSON
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
}, (t) => [primaryKey({ columns: [t.instanceId, t.id] }), index("certificates_not_after_idx").on(t.notAfter)]);

/**
 * Settings at three scopes (roadmap): scope "global" (scopeId ""), "group" (group name)
 * or "instance" (instance id). Values are JSON; the effective value is resolved per instance.
 */
export const settings = sqliteTable("settings", {
  scope: text("scope", { enum: ["global", "group", "instance"] }).notNull(),
  scopeId: text("scope_id").notNull().default(""),
  key: text("key").notNull(),
  value: text("value").notNull(),
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
