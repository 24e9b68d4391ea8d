// Wire shapes for certificates, shared by hub and agent.
//
//   hub → agent (in /sync when the instance's config version differs): InstanceConfig —
//     effective settings, the CA accounts and stored credentials the instance may use (only
//     credentials its certificates reference travel), and its managed certificate definitions.
//   agent → hub (in /sync when the report hash changes): CertificateReport per certificate
//     (managed and external alike), AccountReport per CA account, ExternalManagerReport.
//
// Private keys never appear in any of these shapes. Bounds on every number and string keep a
// misbehaving agent from storing values the hub cannot render (security review #3).
import { z } from "zod";

/** 2000-01-01 … 2200-01-01 in epoch ms: anything outside is not a real certificate date. */
export const MIN_TIME_MS = 946_684_800_000;
export const MAX_TIME_MS = 7_258_118_400_000;
export const epochMs = z.number().int().min(MIN_TIME_MS).max(MAX_TIME_MS);

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, "invalid id");
const text = (max: number) => z.string().max(max);
const absPath = z.string().min(1).max(1024).regex(/^\//, "must be an absolute path");

// ---- definitions (hub → agent) ----------------------------------------------------------------

export const KEY_TYPES = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const KeyTypeSchema = z.enum(KEY_TYPES);

/** A DNS name or wildcard (`*.example.com`), lower-cased; IP identifiers are not offered yet. */
export const DomainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "not a valid domain name");

export const Http01StandaloneSchema = z.object({
  type: z.literal("http-01"),
  port: z.number().int().min(1).max(65535).default(80),
  address: z.string().min(1).max(64).optional(),
  webroot: z.undefined().optional(),
});
export const Http01WebrootSchema = z.object({
  type: z.literal("http-01"),
  webroot: absPath,
});
export const Dns01Rfc2136Schema = z.object({
  type: z.literal("dns-01"),
  provider: z.literal("rfc2136"),
  server: z.string().min(1).max(261).regex(/^[^\s]+$/, "host:port"),
  zone: z.string().max(253).optional(),
  credentialId: id,
  propagationSeconds: z.number().int().min(0).max(3600).optional(),
});
export const Dns01ExecSchema = z.object({
  type: z.literal("dns-01"),
  provider: z.literal("exec"),
  command: absPath,
  propagationSeconds: z.number().int().min(0).max(3600).optional(),
});
/** Parsed in this order: webroot before standalone (both are "http-01"). */
export const ChallengeSchema = z.union([Http01WebrootSchema, Http01StandaloneSchema, Dns01Rfc2136Schema, Dns01ExecSchema]);
export type Challenge = z.infer<typeof ChallengeSchema>;

export const TASK_TRIGGERS = ["success", "failure", "always", "manual"] as const;
const taskCommon = {
  name: z.string().max(128).optional(),
  trigger: z.enum(TASK_TRIGGERS).default("success"),
  continueOnError: z.boolean().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  retryDelaySeconds: z.number().int().min(0).max(3600).optional(),
};
const fileMode = z.string().regex(/^0?[0-7]{3}$/, 'an octal mode such as "0640"');
// `combined`: also write combined.pem, the full chain followed by the private key in one file
// (haproxy's `crt`, lighttpd's ssl.pemfile, Webmin, pound); an extension of the contract's fields.
export const PemTaskSchema = z.object({ type: z.literal("pem"), directory: absPath, mode: fileMode.optional(), owner: z.string().max(64).optional(), group: z.string().max(64).optional(), combined: z.boolean().optional(), ...taskCommon });
export const PfxTaskSchema = z.object({
  type: z.literal("pfx"),
  path: absPath,
  passwordCredentialId: id,
  encoding: z.enum(["modern", "legacy"]).default("modern"),
  friendlyName: z.string().max(128).optional(),
  mode: fileMode.optional(),
  owner: z.string().max(64).optional(),
  group: z.string().max(64).optional(),
  ...taskCommon,
});
export const ScriptTaskSchema = z.object({ type: z.literal("script"), command: absPath, args: z.array(z.string().max(1024)).max(32).optional(), timeoutSeconds: z.number().int().min(1).max(3600).optional(), ...taskCommon });
// For service tasks the contract's "name" is the unit/label to reload (it doubles as the task's name).
// manager "direct" (no systemd/launchd, e.g. a container): the nginx/apache/haproxy/postfix preset
// reloads the server itself. `config`: the server's own config file (postfix: its config
// directory) for the preset's config test and direct reload, when it is not the default one.
export const ServiceTaskSchema = z.object({
  ...taskCommon,
  type: z.literal("service"),
  manager: z.enum(["systemd", "launchd", "direct"]),
  name: z.string().min(1).max(256).regex(/^[A-Za-z0-9@_.:\/-]+$/, "invalid service name"),
  action: z.enum(["reload", "restart"]).default("reload"),
  config: absPath.optional(),
});
export const WebhookTaskSchema = z.object({ type: z.literal("webhook"), url: z.string().url().max(2048).regex(/^https?:\/\//, "http(s) URL"), secretCredentialId: id.optional(), timeoutSeconds: z.number().int().min(1).max(120).optional(), ...taskCommon });
export const WaitTaskSchema = z.object({ type: z.literal("wait"), seconds: z.number().int().min(1).max(600), ...taskCommon });
export const DeploymentTaskSchema = z.discriminatedUnion("type", [PemTaskSchema, PfxTaskSchema, ScriptTaskSchema, ServiceTaskSchema, WebhookTaskSchema, WaitTaskSchema]);
export type DeploymentTask = z.infer<typeof DeploymentTaskSchema>;

// Post-deploy check target. An empty or absent host means the certificate's first domain that is
// not a wildcard (SNI = that name) — the "default the first domain on 443".
export const VerifySchema = z.object({ host: z.string().trim().max(253).default(""), port: z.number().int().min(1).max(65535).default(443) });

/** The name the post-deploy check connects to by default: the first domain that is not a wildcard (null: all are). */
export function defaultVerifyHost(domains: readonly string[]): string | null {
  return domains.find((d) => !d.startsWith("*.")) ?? null;
}

/** How renewal time is chosen; ARI (when the CA offers it) overrides both. */
export const RenewalPolicySchema = z.object({
  daysBeforeExpiry: z.number().int().min(1).max(365).optional(),
  lifetimePercent: z.number().int().min(10).max(95).optional(),
});

/** A managed certificate definition as the agent receives it (no secrets). */
export const ManagedCertificateSpecSchema = z.object({
  id,
  name: z.string().min(1).max(255),
  domains: z.array(DomainSchema).min(1).max(100),
  caAccountId: id,
  keyType: KeyTypeSchema.default("ecdsa-p256"),
  challenge: ChallengeSchema,
  deployments: z.array(DeploymentTaskSchema).max(32).default([]),
  verify: VerifySchema.nullable().optional(),
  renewal: RenewalPolicySchema.optional(),
  preferredChain: z.string().max(255).optional(),
  profile: z.string().max(64).optional(),
  /** Bumped by the hub on every edit: a changed definition is re-ordered only when needed. */
  revision: z.number().int().nonnegative(),
});
export type ManagedCertificateSpec = z.infer<typeof ManagedCertificateSpecSchema>;

export const CaAccountSpecSchema = z.object({
  id,
  title: z.string().max(255),
  directoryUrl: z.string().url().max(2048),
  email: z.string().max(254).optional(),
  trustedRootsPem: z.string().max(64 * 1024).optional(),
  /** EAB: key id plus the HMAC key (base64url), from the credential that stores it. */
  eab: z.object({ keyId: z.string().min(1).max(256), hmacKey: z.string().min(1).max(1024) }).optional(),
});
export type CaAccountSpec = z.infer<typeof CaAccountSpecSchema>;

export const CREDENTIAL_TYPES = ["api-token", "username-password", "password", "tsig", "eab"] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
/** The secret part of a stored credential, per type. */
export const CredentialSecretSchemas = {
  "api-token": z.object({ token: z.string().min(1).max(4096) }),
  "username-password": z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024) }),
  password: z.object({ password: z.string().min(1).max(1024) }),
  tsig: z.object({
    name: z.string().min(1).max(253),
    algorithm: z.enum(["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5", "hmac-sha224", "hmac-sha384"]).default("hmac-sha256"),
    secret: z.string().min(1).max(1024).regex(/^[A-Za-z0-9+/]+=*$/, "base64"),
  }),
  eab: z.object({ keyId: z.string().min(1).max(256), hmacKey: z.string().min(1).max(1024) }),
} as const;
export const CredentialForAgentSchema = z.object({ id, type: z.enum(CREDENTIAL_TYPES), secret: z.record(z.string(), z.string().max(4096)) });
export type CredentialForAgent = z.infer<typeof CredentialForAgentSchema>;

/** Everything the hub configures on one instance, versioned by the instance's settings version. */
export const InstanceConfigSchema = z.object({
  version: z.number().int().nonnegative(),
  settings: z.record(z.string().max(128), z.unknown()),
  caAccounts: z.array(CaAccountSpecSchema).max(1000).default([]),
  credentials: z.array(CredentialForAgentSchema).max(1000).default([]),
  certificates: z.array(ManagedCertificateSpecSchema).max(5000).default([]),
});
export type InstanceConfig = z.infer<typeof InstanceConfigSchema>;

// ---- reports (agent → hub) ---------------------------------------------------------------------

export const CERT_SOURCES = ["managed", "certbot", "acme.sh", "posh-acme", "simple-acme", "win-acme"] as const;
export type CertSource = (typeof CERT_SOURCES)[number];
export const CERT_STATUSES = ["pending", "valid", "renewing", "failed", "expiring", "expired"] as const;
export type CertStatus = (typeof CERT_STATUSES)[number];

export const STEP_NAMES = ["preflight", "account", "order", "challenge", "finalize", "download", "store", "deploy", "verify"] as const;
export const AttemptStepSchema = z.object({
  name: z.enum(STEP_NAMES),
  outcome: z.enum(["ok", "failed", "skipped"]),
  ms: z.number().int().min(0).max(86_400_000),
  domain: z.string().max(253).optional(),
  message: text(2000).optional(),
});
export const ATTEMPT_KINDS = ["issue", "renew", "preflight", "deploy"] as const;
export const AttemptSchema = z.object({
  at: epochMs,
  kind: z.enum(ATTEMPT_KINDS).default("issue"),
  outcome: z.enum(["succeeded", "failed", "interrupted"]),
  message: text(2000),
  serial: z.string().max(128).optional(),
  steps: z.array(AttemptStepSchema).max(64).default([]),
});
export type Attempt = z.infer<typeof AttemptSchema>;

export const DeploymentResultSchema = z.object({
  index: z.number().int().min(0).max(64),
  type: z.string().max(32),
  name: z.string().max(128).optional(),
  lastResult: z.object({ at: epochMs, outcome: z.enum(["succeeded", "failed", "skipped"]), message: text(2000), ms: z.number().int().min(0).max(86_400_000).optional(), output: text(4000).optional() }).nullable(),
  /** The last "Test task" run of this task alone (kept apart: a test does not change deployment health). */
  lastTest: z.object({ at: epochMs, outcome: z.enum(["succeeded", "failed", "skipped"]), message: text(2000), ms: z.number().int().min(0).max(86_400_000).optional(), output: text(4000).optional() }).nullable().optional(),
});

export const RENEWAL_REASONS = ["ari", "lifetime", "days-before-expiry", "backoff", "new", "changed", "manual"] as const;

export const CertificateReportSchema = z.object({
  id,
  name: z.string().trim().min(1).max(255),
  domains: z.array(z.string().min(1).max(253)).max(100),
  source: z.enum(CERT_SOURCES),
  status: z.enum(CERT_STATUSES),
  notBefore: epochMs.nullable().optional(),
  notAfter: epochMs.nullable().optional(),
  serial: z.string().max(128).regex(/^[0-9a-f]*$/, "lowercase hex").nullable().optional(),
  issuer: z.string().max(512).nullable().optional(),
  lastError: z.string().max(2000).nullable().optional(),
  // managed certificates
  nextRenewalAt: epochMs.nullable().optional(),
  renewalReason: z.enum(RENEWAL_REASONS).nullable().optional(),
  failureCount: z.number().int().min(0).max(1_000_000).optional(),
  attempts: z.array(AttemptSchema).max(20).optional(),
  deployments: z.array(DeploymentResultSchema).max(32).optional(),
  served: z.enum(["served", "stale", "unreachable"]).nullable().optional(),
  /** Definition revision this report reflects (managed only). */
  revision: z.number().int().nonnegative().optional(),
  // external certificates
  paths: z.record(z.string().max(32), z.string().max(1024)).optional(),
  identifier: z.string().max(512).optional(),
  /** External: the client's own renewal settings as it records them (ca, challenge, keyType, …); never secrets. */
  settings: z.record(z.string().max(32), z.string().max(512)).optional(),
});
export type CertificateReport = z.infer<typeof CertificateReportSchema>;

export const AccountReportSchema = z.object({
  caAccountId: id,
  status: z.enum(["registered", "error", "pending"]),
  message: text(2000).optional(),
  accountUrl: z.string().max(2048).optional(),
  at: epochMs,
});
export type AccountReport = z.infer<typeof AccountReportSchema>;

export const EXTERNAL_MANAGERS = ["certbot", "acme.sh", "posh-acme", "simple-acme", "win-acme"] as const;
export type ExternalManagerName = (typeof EXTERNAL_MANAGERS)[number];
export const ExternalManagerReportSchema = z.object({
  name: z.enum(EXTERNAL_MANAGERS),
  status: z.enum(["ok", "not-found", "disabled", "error"]),
  configPath: z.string().max(1024).nullable(),
  certificateCount: z.number().int().min(0).max(1_000_000),
  scannedAt: epochMs.nullable(),
  problems: z.array(text(1000)).max(100),
});
export type ExternalManagerReport = z.infer<typeof ExternalManagerReportSchema>;

// ---- per-certificate commands (payloads checked by the hub when queueing and by the agent) ----

export const CertificateCommandPayloadSchema = z.object({ certificateId: id });
export const RenewNowPayloadSchema = z.object({ certificateId: id.optional() }).strict();
/** test-task: run the certificate's task at `index` (0-based, as in `deployments`) alone, now. */
export const TestTaskPayloadSchema = z.object({ certificateId: id, index: z.number().int().min(0).max(31) }).strict();
