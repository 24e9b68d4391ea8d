// Audit log: every admin action and every sign-in attempt.
import { and, desc, eq, like, lt, or, sql } from "drizzle-orm";
import type { HubDb } from "./client";
import { auditLog } from "./schema";

export interface Actor {
  id: string | null;
  label: string;
  ip?: string | null;
}

export const SYSTEM_ACTOR: Actor = { id: null, label: "system" };
export const CLI_ACTOR: Actor = { id: null, label: "cli" };

export async function audit(
  db: HubDb,
  actor: Actor,
  action: string,
  target?: { type: string; id: string } | null,
  detail?: Record<string, unknown>,
  outcome: "success" | "failure" = "success",
) {
  await db.insert(auditLog).values({
    at: Date.now(),
    actorId: actor.id,
    actorLabel: actor.label,
    action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    outcome,
    ip: actor.ip ?? null,
    detail: detail ? JSON.stringify(detail) : null,
  });
}

export async function listAudit(db: HubDb, opts: { q?: string; before?: number; limit?: number } = {}) {
  const limit = Math.min(opts.limit ?? 50, 200);
  const conds = [];
  if (opts.before) conds.push(lt(auditLog.id, opts.before));
  if (opts.q) {
    const pattern = `%${opts.q}%`;
    conds.push(or(like(auditLog.action, pattern), like(auditLog.actorLabel, pattern), like(auditLog.targetId, pattern)));
  }
  return db
    .select()
    .from(auditLog)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(limit + 1)
    .then((rows) => ({ rows: rows.slice(0, limit), more: rows.length > limit }));
}

export async function countAudit(db: HubDb, action: string) {
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(auditLog).where(eq(auditLog.action, action));
  return Number(row?.n ?? 0);
}
