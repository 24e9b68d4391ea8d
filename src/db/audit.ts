// Audit log: every admin action and sign-in attempts (refused bursts as one counted row), and
// its retention: rows past a maximum age or beyond a row cap are deleted, except the newest
// security events (sign-ins, password, principal and token changes), which are always kept.
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
): Promise<number> {
  const [row] = await db.insert(auditLog).values({
    at: Date.now(),
    actorId: actor.id,
    actorLabel: actor.label,
    action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    outcome,
    ip: actor.ip ?? null,
    detail: detail ? JSON.stringify(detail) : null,
  }).returning({ id: auditLog.id });
  return row!.id;
}

/** Rewrites the detail of one row (an aggregated row's running count). */
export async function updateAuditDetail(db: HubDb, id: number, detail: Record<string, unknown>) {
  await db.update(auditLog).set({ detail: JSON.stringify(detail) }).where(eq(auditLog.id, id));
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

/** Actions that are security events: the newest of them survive any retention limit. */
export const SECURITY_ACTION_PREFIXES = ["login.", "logout", "account.", "principal.", "token.", "hub."] as const;
const isSecurityAction = or(...SECURITY_ACTION_PREFIXES.map((p) => like(auditLog.action, `${p}%`)))!;

export interface AuditRetention {
  /** Rows older than this are deleted (0 = no age limit). */
  maxAgeMs: number;
  /** Only the newest this many rows are kept (0 = no cap). */
  maxRows: number;
  /** The newest this many security events are kept whatever their age or the cap. */
  keepSecurityEvents: number;
}

const DELETE_CHUNK = 5_000;

/**
 * Applies the retention limits; returns how many rows were deleted. Deletes in chunks of
 * DELETE_CHUNK so a large backlog does not hold the write lock for long.
 */
export async function pruneAudit(db: HubDb, policy: AuditRetention, now = Date.now()): Promise<number> {
  // Rows with id >= protectedFrom that are security events are never deleted.
  const protectedFrom = policy.keepSecurityEvents > 0
    ? await nthNewestId(db, policy.keepSecurityEvents, isSecurityAction)
    : undefined;
  const capFrom = policy.maxRows > 0 ? await nthNewestId(db, policy.maxRows) : undefined;
  const expired = [];
  if (policy.maxAgeMs > 0) expired.push(lt(auditLog.at, now - policy.maxAgeMs));
  if (capFrom !== undefined) expired.push(lt(auditLog.id, capFrom));
  if (!expired.length) return 0;
  const doomed = and(
    or(...expired),
    // Fewer security events than keepSecurityEvents (protectedFrom undefined, keep > 0): keep all.
    policy.keepSecurityEvents > 0
      ? sql`not (${isSecurityAction} and ${auditLog.id} >= ${protectedFrom ?? 0})`
      : undefined,
  );
  let deleted = 0;
  for (;;) {
    const res = await db.run(sql`delete from ${auditLog} where ${auditLog.id} in (select ${auditLog.id} from ${auditLog} where ${doomed} order by ${auditLog.id} limit ${DELETE_CHUNK})`);
    const n = Number(res.rowsAffected ?? 0);
    deleted += n;
    if (n < DELETE_CHUNK) return deleted;
    await new Promise((r) => setTimeout(r, 0)); // let requests in between chunks
  }
}

/** Id of the n-th newest row (matching `where`), or undefined when there are fewer than n. */
async function nthNewestId(db: HubDb, n: number, where?: ReturnType<typeof or>) {
  const [row] = await db.select({ id: auditLog.id }).from(auditLog).where(where).orderBy(desc(auditLog.id)).limit(1).offset(n - 1);
  return row?.id;
}
