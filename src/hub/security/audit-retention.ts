// Periodic audit-log retention for a running hub: applies the configured age and row limits
// (see pruneAudit in db/audit.ts) shortly after start and then every hour.
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
