// Resolves hub settings from flags and environment, per the contract.
import path from "node:path";
import { parseListen } from "../cli/args";

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
}

export interface HubFlags {
  "data-dir"?: string;
  "db-url"?: string;
  listen?: string;
  http?: boolean;
  "tls-cert"?: string;
  "tls-key"?: string;
}

export function resolveHubConfig(flags: HubFlags, env = process.env): HubConfig {
  const dataDir = path.resolve(flags["data-dir"] ?? env.CERTHUB_DATA_DIR ?? "./certhub-data");
  const dbUrl = flags["db-url"] ?? env.CERTHUB_DB_URL ?? `file:${path.join(dataDir, "hub.db")}`;
  if ((flags["tls-cert"] === undefined) !== (flags["tls-key"] === undefined)) {
    throw new Error("--tls-cert and --tls-key must be given together");
  }
  return {
    dataDir,
    dbUrl,
    dbAuthToken: env.CERTHUB_DB_AUTH_TOKEN || undefined,
    listen: parseListen(flags.listen ?? "0.0.0.0:9697"),
    http: Boolean(flags.http),
    tlsCert: flags["tls-cert"],
    tlsKey: flags["tls-key"],
    secretKey: env.CERTHUB_SECRET_KEY || undefined,
  };
}
