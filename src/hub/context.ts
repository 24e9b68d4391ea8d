// Types shared by every hub route: the dependencies created once at start and the
// per-request auth facts set by the auth middleware.
import type { HubDb } from "../db/client";
import type { RoleId } from "../db/roles";
import type { HubConfig } from "./config";
import type { FleetService } from "./fleet";
import type { Metrics } from "./metrics";

export interface HubDeps {
  db: HubDb;
  config: HubConfig;
  metrics: Metrics;
  /** Background services registered at start (last-seen batching, command push…); stopped on shutdown. */
  services: { name: string; stop(): Promise<void> | void }[];
  /** Joined instances: agent protocol state, command push, last-seen batching. */
  fleet: FleetService;
  /** AES-256-GCM key for stored credentials (src/hub/encryption-key.ts); never logged. */
  secretKey: Uint8Array;
}

export interface AuthInfo {
  principalId: string;
  label: string; // username or token title, for the audit log
  roles: RoleId[];
  via: "session" | "token";
  csrfToken?: string; // set for sessions
  sessionIdHash?: string;
}

export type HubEnv = {
  Variables: {
    deps: HubDeps;
    auth: AuthInfo;
  };
};
