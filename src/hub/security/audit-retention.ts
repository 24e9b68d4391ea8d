// Periodic audit-log retention for a running hub: applies the configured age and row limits
// (see pruneAudit in db/audit.ts) shortly after start and then every hour. The same run deletes
// API tokens revoked more than 30 days ago that no instance still names (purgeRevokedTokens).
import { purgeRevokedTokens, REVOKED_TOKEN_KEEP_MS } from "../../db/api-tokens";
import { pruneAudit, type AuditRetention } from "../../db/audit";
import type { HubDb } from "../../db/client";

export const AUDIT_RETENTION_INTERVAL_MS = 60 * 60_000;
const FIRST_RUN_DELAY_MS = 30_000; // off the start-up path

export function startAuditRetention(db: HubDb, policy: AuditRetention, intervalMs = AUDIT_RETENTION_INTERVAL_MS) {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const deleted = await pruneAudit(db, policy);
      if (deleted) console.log(`certhub: audit retention deleted ${deleted} old audit rows`);
      const tokens = await purgeRevokedTokens(db, Date.now() - REVOKED_TOKEN_KEEP_MS);
      if (tokens) console.log(`certhub: deleted ${tokens} API token(s) revoked more than 30 days ago`);
    } catch (err) {
      console.error("certhub: audit retention failed:", err instanceof Error ? err.message : err);
    } finally {
      running = false;
    }
  };
  const first = setTimeout(run, Math.min(FIRST_RUN_DELAY_MS, intervalMs));
  const every = setInterval(run, intervalMs);
  first.unref?.();
  every.unref?.();
  return {
    name: "audit-retention",
    stop() {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
