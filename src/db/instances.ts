// Joined instances (agents). Hot-path reads go through the fleet cache
// (src/hub/fleet); these functions are the only SQL that touches the table.
import { and, asc, desc, eq, inArray, like, or, sql, type SQL } from "drizzle-orm";
import { newId } from "../lib/ids";
import type { HubDb } from "./client";
import { apiTokens, instances } from "./schema";

export type Instance = typeof instances.$inferSelect;
export type InstanceStatus = "online" | "offline" | "revoked" | "conflict";
export const INSTANCE_STATUSES: InstanceStatus[] = ["online", "offline", "revoked", "conflict"];

export interface NewInstance {
  hostname: string;
  os: string;
  arch: string;
  version: string;
  machineId?: string | null;
  publicKey: string;
  joiningKeyId: string | null;
  groupName: string | null;
  syncIntervalSeconds: number;
  clonedFromId?: string | null;
  lastIp?: string | null;
  lastBootId?: string | null;
  lastSeq?: number;
}

export function newInstanceId() {
  return newId("inst_");
}

export async function insertInstance(db: HubDb, id: string, v: NewInstance) {
  const now = Date.now();
  await db.insert(instances).values({
    id,
    hostname: v.hostname,
    os: v.os,
    arch: v.arch,
    version: v.version,
    machineId: v.machineId ?? null,
    publicKey: v.publicKey,
    joiningKeyId: v.joiningKeyId,
    groupName: v.groupName,
    syncIntervalSeconds: v.syncIntervalSeconds,
    clonedFromId: v.clonedFromId ?? null,
    lastIp: v.lastIp ?? null,
    lastBootId: v.lastBootId ?? null,
    lastSeq: v.lastSeq ?? 0,
    lastSeenAt: now,
    joinedAt: now,
    updatedAt: now,
  });
}

export async function getInstance(db: HubDb, id: string) {
  const [row] = await db.select().from(instances).where(eq(instances.id, id));
  return row;
}

/** An instance together with the joining key it came in with (for views). */
export async function getInstanceView(db: HubDb, id: string) {
  const [row] = await db
    .select({
      instance: instances,
      keyClientId: apiTokens.clientId,
      keyTitle: apiTokens.title,
      keyState: apiTokens.state,
      certificateCount: sql<number>`(select count(*) from certificates c where c.instance_id = ${instances.id})`,
    })
    .from(instances)
    .leftJoin(apiTokens, eq(apiTokens.id, instances.joiningKeyId))
    .where(eq(instances.id, id));
  return row;
}

/**
 * SQL for the derived status, so lists can filter and paginate in the database.
 * Must agree with deriveStatus() in src/hub/fleet/status.ts.
 */
export function statusSql(now: number): SQL<string> {
  return sql<string>`case
    when ${instances.state} = 'revoked' or ${apiTokens.state} = 'revoked' then 'revoked'
    when ${instances.identityConflict} = 1 then 'conflict'
    when ${instances.lastSeenAt} > ${now} - 3 * 1000 * ${instances.syncIntervalSeconds} then 'online'
    else 'offline' end`;
}

export interface ListInstancesOptions {
  q?: string;
  status?: InstanceStatus;
  group?: string;
  offset?: number;
  limit?: number;
  now?: number;
}

export async function listInstances(db: HubDb, opts: ListInstancesOptions = {}) {
  const now = opts.now ?? Date.now();
  const status = statusSql(now);
  const conds: SQL[] = [];
  if (opts.q) {
    const p = `%${opts.q}%`;
    conds.push(or(like(instances.hostname, p), like(instances.id, p), like(instances.groupName, p), like(apiTokens.title, p), like(apiTokens.clientId, p))!);
  }
  if (opts.status) conds.push(sql`${status} = ${opts.status}`);
  if (opts.group) conds.push(eq(instances.groupName, opts.group));
  const where = conds.length ? and(...conds) : undefined;
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const rows = await db
    .select({
      instance: instances,
      keyClientId: apiTokens.clientId,
      keyTitle: apiTokens.title,
      keyState: apiTokens.state,
      status,
      certificateCount: sql<number>`(select count(*) from certificates c where c.instance_id = ${instances.id})`,
    })
    .from(instances)
    .leftJoin(apiTokens, eq(apiTokens.id, instances.joiningKeyId))
    .where(where)
    .orderBy(asc(instances.hostname), asc(instances.id))
    .limit(limit)
    .offset(opts.offset ?? 0);
  const [{ total }] = await db
    .select({ total: sql<number>`count(*)` })
    .from(instances)
    .leftJoin(apiTokens, eq(apiTokens.id, instances.joiningKeyId))
    .where(where);
  return { total: Number(total), rows };
}

export async function countInstancesByStatus(db: HubDb, now = Date.now()) {
  const status = statusSql(now);
  const rows = await db
    .select({ status, n: sql<number>`count(*)` })
    .from(instances)
    .leftJoin(apiTokens, eq(apiTokens.id, instances.joiningKeyId))
    .groupBy(status);
  const out: Record<InstanceStatus, number> = { online: 0, offline: 0, revoked: 0, conflict: 0 };
  for (const r of rows) out[r.status as InstanceStatus] = Number(r.n);
  return out;
}

/**
 * Instances for a picker: at most `limit`, optionally matching hostname or id, so pickers
 * stay small however large the fleet is (`more` says the admin should narrow the search).
 */
export async function listInstanceChoices(db: HubDb, opts: { q?: string; limit?: number } = {}) {
  const limit = opts.limit ?? 200;
  const p = opts.q ? `%${opts.q}%` : undefined;
  const rows = await db
    .select({ id: instances.id, hostname: instances.hostname })
    .from(instances)
    .where(p ? or(like(instances.hostname, p), like(instances.id, p)) : undefined)
    .orderBy(asc(instances.hostname))
    .limit(limit + 1);
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

export async function updateInstance(db: HubDb, id: string, patch: Partial<Omit<Instance, "id">>) {
  const res = await db
    .update(instances)
    .set({ ...patch, updatedAt: Date.now() })
    .where(eq(instances.id, id))
    .returning({ id: instances.id });
  return res.length > 0;
}

export async function deleteInstance(db: HubDb, id: string) {
  const res = await db.delete(instances).where(eq(instances.id, id)).returning({ id: instances.id });
  return res.length > 0;
}

/** One row of the batched heartbeat flush. */
export interface SeenUpdate {
  id: string;
  lastSeenAt: number;
  lastSeq: number;
  lastBootId: string;
  lastIp: string | null;
}

/**
 * Writes a batch of heartbeats in one transaction. Never moves lastSeq backwards (another
 * write — rekey, a second hub process — may have gone further meanwhile).
 */
export async function flushSeen(db: HubDb, batch: SeenUpdate[]) {
  if (batch.length === 0) return;
  await db.transaction(async (tx) => {
    for (const u of batch) {
      await tx
        .update(instances)
        .set({
          lastSeenAt: sql`max(coalesce(${instances.lastSeenAt}, 0), ${u.lastSeenAt})`,
          lastSeq: sql`max(${instances.lastSeq}, ${u.lastSeq})`,
          lastBootId: sql`case when ${instances.lastSeq} <= ${u.lastSeq} then ${u.lastBootId} else ${instances.lastBootId} end`,
          lastIp: u.lastIp,
        })
        .where(eq(instances.id, u.id));
    }
  });
}

export async function instancesJoinedWith(db: HubDb, joiningKeyId: string) {
  return db.select({ id: instances.id }).from(instances).where(eq(instances.joiningKeyId, joiningKeyId));
}

export async function instancesByIds(db: HubDb, ids: string[]) {
  if (ids.length === 0) return [];
  return db.select().from(instances).where(inArray(instances.id, ids));
}

export async function recentInstances(db: HubDb, limit = 10) {
  return db.select().from(instances).orderBy(desc(instances.joinedAt)).limit(limit);
}

