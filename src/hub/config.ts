// Resolves hub settings from flags and environment, per the contract.
import path from "node:path";
import { z } from "zod";
import { parseListen } from "../lib/listen";
import { UsageError } from "../lib/usage-error";
import type { AuditRetention } from "../db/audit";
import { DEFAULT_SESSION_LIFETIMES, type SessionLifetimes } from "../db/sessions";

export interface HubConfig {
  dataDir: string;
  dbUrl: string;
  dbAuthToken?: string;
  listen: { hostname: string; port: number };
  http: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** CERTHUB_SECRET_KEY: the stored-credential key (else <data-dir>/secret.key). */
  secretKey?: string;
  /** Reverse proxies (CIDRs) whose X-Forwarded-For is believed; empty: the peer is the client. */
  trustProxy: string[];
  auditRetention: AuditRetention;
  /** --session-idle / --session-max (or CERTHUB_SESSION_IDLE_SECONDS / _MAX_SECONDS): admin session idle and absolute expiry. */
  sessions: SessionLifetimes;
  /** CERTHUB_SYNC_INTERVAL_SECONDS: the sync interval given to newly joined instances (default 60). */
  syncIntervalSeconds?: number;
}

export interface HubFlags {
  "data-dir"?: string;
  "db-url"?: string;
  listen?: string;
  http?: boolean;
  "tls-cert"?: string;
  "tls-key"?: string;
  "trust-proxy"?: string;
  "audit-max-age"?: string;
  "audit-max-rows"?: string;
  "audit-keep-security"?: string;
  "session-idle"?: string;
  "session-max"?: string;
}

const DAY_MS = 86_400_000;
export const DEFAULT_AUDIT_RETENTION: AuditRetention = { maxAgeMs: 365 * DAY_MS, maxRows: 1_000_000, keepSecurityEvents: 10_000 };

export function resolveHubConfig(flags: HubFlags, env = process.env): HubConfig {
  const dataDir = path.resolve(flags["data-dir"] ?? env.CERTHUB_DATA_DIR ?? "./certhub-data");
  const dbUrl = flags["db-url"] ?? env.CERTHUB_DB_URL ?? `file:${path.join(dataDir, "hub.db")}`;
  if ((flags["tls-cert"] === undefined) !== (flags["tls-key"] === undefined)) {
    throw new Error("--tls-cert and --tls-key must be given together");
  }
  const days = flags["audit-max-age"] ?? env.CERTHUB_AUDIT_MAX_AGE_DAYS;
  const rows = flags["audit-max-rows"] ?? env.CERTHUB_AUDIT_MAX_ROWS;
  const keep = flags["audit-keep-security"] ?? env.CERTHUB_AUDIT_KEEP_SECURITY;
  return {
    dataDir,
    dbUrl,
    dbAuthToken: env.CERTHUB_DB_AUTH_TOKEN || undefined,
    listen: parseListen(flags.listen ?? "0.0.0.0:9697"),
    http: Boolean(flags.http),
    tlsCert: flags["tls-cert"],
    tlsKey: flags["tls-key"],
    secretKey: env.CERTHUB_SECRET_KEY || undefined,
    trustProxy: parseTrustProxy(flags["trust-proxy"] ?? env.CERTHUB_TRUST_PROXY ?? ""),
    syncIntervalSeconds: Number(env.CERTHUB_SYNC_INTERVAL_SECONDS) || undefined,
    sessions: resolveSessionLifetimes(flags, env),
    auditRetention: {
      maxAgeMs: days === undefined ? DEFAULT_AUDIT_RETENTION.maxAgeMs : count(days, "--audit-max-age (days)") * DAY_MS,
      maxRows: rows === undefined ? DEFAULT_AUDIT_RETENTION.maxRows : count(rows, "--audit-max-rows"),
      keepSecurityEvents: keep === undefined ? DEFAULT_AUDIT_RETENTION.keepSecurityEvents : count(keep, "--audit-keep-security"),
    },
  };
}

function count(value: string, what: string): number {
  const n = z.coerce.number().int().min(0).max(1e12).safeParse(value.trim() === "" ? "x" : value);
  if (!n.success) throw new UsageError(`invalid ${what} "${value}" (expected a whole number ≥ 0; 0 = no limit)`);
  return n.data;
}

// Seconds, whole, from a minute (shorter idle times sign people out mid-form; the last-seen
// refresh is throttled to a fraction of the idle time) to a year.
const sessionSeconds = z.coerce.number().int().min(60).max(365 * 86_400);

/**
 * Session lifetimes from --session-idle / --session-max, else the environment (defaults: idle
 * 2 h, absolute 24 h). Nonsense is refused naming where it came from (the flag or the variable).
 * Idle may not exceed the maximum: a longer idle time could never take effect, so a hub given
 * one refuses to start, naming both settings and their values. The default idle time alone
 * yields to a shorter maximum (`--session-max 3600` by itself means an hour, idle or not).
 */
export function resolveSessionLifetimes(
  flags: Pick<HubFlags, "session-idle" | "session-max">,
  env: Record<string, string | undefined>,
): SessionLifetimes {
  const read = (flag: "session-idle" | "session-max", variable: string, fallbackMs: number) => {
    const fromFlag = flags[flag] !== undefined;
    const raw = fromFlag ? flags[flag]! : env[variable];
    if (raw === undefined || (raw === "" && !fromFlag)) return { ms: fallbackMs, named: `the default maximum ${fallbackMs / 1000}`, given: false };
    const n = sessionSeconds.safeParse(raw.trim() === "" ? "x" : raw);
    const name = fromFlag ? `--${flag}` : variable;
    if (!n.success) throw new UsageError(`invalid ${name} "${raw}" (expected whole seconds from 60 to ${365 * 86_400}, e.g. 7200 for 2 hours)`);
    return { ms: n.data * 1000, named: `${name} "${raw}"`, given: true };
  };
  const idle = read("session-idle", "CERTHUB_SESSION_IDLE_SECONDS", DEFAULT_SESSION_LIFETIMES.idleMs);
  const max = read("session-max", "CERTHUB_SESSION_MAX_SECONDS", DEFAULT_SESSION_LIFETIMES.absoluteMs);
  if (idle.ms > max.ms) {
    if (!idle.given) return { idleMs: max.ms, absoluteMs: max.ms };
    throw new UsageError(
      `invalid ${idle.named}: longer than ${max.named} (the idle time may not exceed the session maximum, ` +
        `--session-max / CERTHUB_SESSION_MAX_SECONDS: a session ends at the maximum however busy, so a longer idle time would never apply)`,
    );
  }
  return { idleMs: idle.ms, absoluteMs: max.ms };
}

const cidr = z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()]);

/** "10.0.0.0/8, ::1" → ["10.0.0.0/8", "::1/128"]: a bare address is a single host. */
export function parseTrustProxy(value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const ok = cidr.safeParse(raw);
    if (!ok.success) throw new UsageError(`invalid --trust-proxy entry "${raw}" (expected an IP address or CIDR such as 10.0.0.0/8 or fd00::/8)`);
    out.push(raw.includes("/") ? raw : `${raw}/${raw.includes(":") ? 128 : 32}`);
  }
  return out;
}
