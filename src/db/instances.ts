// Joined instances (agents). Hot-path reads go through the fleet cache
// (src/hub/fleet); these functions are the only SQL that touches the table.
import { and, asc, desc, eq, gt, inArray, like, or, sql, type SQL } from "drizzle-orm";
import { newId } from "../lib/ids";
import type { HubDb } from "./client";
import { apiTokens, caAccounts, credentials, instances, settings } from "./schema";

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
    when ${instances.reinstatedAt} is not null and coalesce(${instances.lastSeenAt}, 0) <= ${instances.reinstatedAt} then 'offline'
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
    conds.push(or(like(instances.hostname, p), like(instances.displayName, p), like(instances.labels, p), like(instances.id, p), like(instances.groupName, p), like(apiTokens.title, p), like(apiTokens.clientId, p))!);
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
  // The join is only needed when a filter looks at the joining key (text search, status).
  const countQuery = db.select({ total: sql<number>`count(*)` }).from(instances);
  const [{ total }] = await (opts.q || opts.status
    ? countQuery.leftJoin(apiTokens, eq(apiTokens.id, instances.joiningKeyId)).where(where)
    : countQuery.where(where));
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

/**
 * Persists a request's sequence number before the request changes anything, so a captured
 * request cannot be replayed after a hub crash (the batched heartbeat flush may lag by
 * seconds). Conditional: false when the stored sequence already reached `seq` (a replay, or
 * another hub process got there first) — the caller must then refuse the request.
 */
export async function commitSequence(db: HubDb, id: string, seq: number, bootId: string, ip: string | null, now = Date.now()) {
  const res = await db
    .update(instances)
    .set({ lastSeq: seq, lastBootId: bootId, lastSeenAt: now, lastIp: ip })
    .where(and(eq(instances.id, id), sql`${instances.lastSeq} < ${seq}`))
    .returning({ id: instances.id });
  return res.length > 0;
}

/**
 * Applies the first re-key after an identity reset: only while the reset is still pending and
 * the key is still the one the request was checked against (two concurrent re-keys: one wins).
 */
export async function applyRekey(db: HubDb, id: string, expectedPublicKey: string, patch: Partial<Omit<Instance, "id">>) {
  const res = await db
    .update(instances)
    .set({ ...patch, updatedAt: Date.now() })
    .where(and(eq(instances.id, id), eq(instances.publicKey, expectedPublicKey), eq(instances.identityResetPending, true)))
    .returning({ id: instances.id });
  return res.length > 0;
}

/**
 * Uses up the key retired by an identity reset: true for exactly one caller, after which
 * requests signed with it no longer verify.
 */
export async function takeRetiredKey(db: HubDb, id: string, retiredPublicKey: string) {
  const res = await db
    .update(instances)
    .set({ retiredPublicKey: null, updatedAt: Date.now() })
    .where(and(eq(instances.id, id), eq(instances.retiredPublicKey, retiredPublicKey)))
    .returning({ id: instances.id });
  return res.length > 0;
}

/**
 * Removes an instance. Its reports and certificate definitions go by cascade; what was defined
 * at its own scope (settings, stored credentials with their sealed secrets, CA accounts) only
 * it could use, so it goes too rather than linger unreachable.
 */
export async function deleteInstance(db: HubDb, id: string) {
  return db.transaction(async (tx) => {
    const res = await tx.delete(instances).where(eq(instances.id, id)).returning({ id: instances.id });
    if (!res.length) return false;
    for (const t of [settings, credentials, caAccounts]) await tx.delete(t).where(and(eq(t.scope, "instance"), eq(t.scopeId, id)));
    return true;
  });
}

/** One row of the batched heartbeat flush. */
export interface SeenUpdate {
  id: string;
  lastSeenAt: number;
  lastSeq: number;
  lastBootId: string;
  lastIp: string | null;
}

/** Rows per UPDATE statement in flushSeen (5 bound values each, well under SQLite's limit). */
const SEEN_CHUNK = 500;

/**
 * Writes a batch of heartbeats: one `UPDATE … FROM (VALUES …)` per chunk of rows (about 10×
 * cheaper than a statement per row), yielding to the event loop between chunks so a large
 * fleet's flush never stalls requests. Never moves lastSeq backwards (another write — rekey,
 * a second hub process — may have gone further meanwhile).
 */
export async function flushSeen(db: HubDb, batch: SeenUpdate[]) {
  for (let i = 0; i < batch.length; i += SEEN_CHUNK) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const rows = sql.join(
      batch.slice(i, i + SEEN_CHUNK).map((u) => sql`(${u.id}, ${u.lastSeenAt}, ${u.lastSeq}, ${u.lastBootId}, ${u.lastIp})`),
      sql`, `,
    );
    // In SQLite every SET expression sees the row's old values, so the order below is safe.
    await db.run(sql`
      UPDATE instances SET
        last_seen_at = max(coalesce(instances.last_seen_at, 0), v.column2),
        last_boot_id = CASE WHEN instances.last_seq <= v.column3 THEN v.column4 ELSE instances.last_boot_id END,
        last_seq = max(instances.last_seq, v.column3),
        last_ip = v.column5
      FROM (VALUES ${rows}) AS v
      WHERE instances.id = v.column1`);
  }
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


/** One page of whole rows in id order after `after` (the fleet cache warms itself with these). */
export function instancesPage(db: HubDb, after: string, limit: number) {
  return db.select().from(instances).where(gt(instances.id, after)).orderBy(asc(instances.id)).limit(limit);
}

/** The instance a public key joined as with this joining key (a retried join). */
export async function findJoined(db: HubDb, publicKey: string, joiningKeyId: string) {
  const [row] = await db
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.publicKey, publicKey), eq(instances.joiningKeyId, joiningKeyId)));
  return row;
}

/** The admin-changeable fields the fleet cache mirrors, for instances another hub process changed. */
export function cacheFieldsOf(db: HubDb, ids: string[]) {
  return db
    .select({
      id: instances.id,
      publicKey: instances.publicKey,
      state: instances.state,
      identityConflict: instances.identityConflict,
      identityResetPending: instances.identityResetPending,
      settingsVersion: instances.settingsVersion,
      nextCommandSeq: instances.nextCommandSeq,
      groupName: instances.groupName,
      joiningKeyId: instances.joiningKeyId,
    })
    .from(instances)
    .where(inArray(instances.id, ids));
}

/** Which instances a config change reaches: one, a list, a group or all. */
export type SettingsTarget = { instanceId: string } | { instanceIds: string[] } | { group: string } | "all";

/**
 * Marks the config as changed for the instances in scope, so their next sync fetches it again.
 * Returns the ids of the affected instances.
 */
export async function bumpSettingsVersion(db: HubDb, scope: SettingsTarget): Promise<string[]> {
  if (typeof scope === "object" && "instanceIds" in scope) {
    const out: string[] = [];
    // Chunked: SQLite limits bound parameters per statement.
    for (let i = 0; i < scope.instanceIds.length; i += 500) out.push(...(await bump(db, inArray(instances.id, scope.instanceIds.slice(i, i + 500)))));
    return out;
  }
  return bump(db, scope === "all" ? undefined : "instanceId" in scope ? eq(instances.id, scope.instanceId) : eq(instances.groupName, scope.group));
}

async function bump(db: HubDb, where: SQL | undefined): Promise<string[]> {
  const rows = await db
    .update(instances)
    .set({ settingsVersion: sql`${instances.settingsVersion} + 1` })
    .where(where)
    .returning({ id: instances.id });
  return rows.map((r) => r.id);
}

/** How many instances joined with each of these keys (the cost of revoking one). */
export async function countJoinedWith(db: HubDb, keyIds: string[]): Promise<Map<string, number>> {
  if (!keyIds.length) return new Map();
  const rows = await db
    .select({ keyId: instances.joiningKeyId, n: sql<number>`count(*)` })
    .from(instances)
    .where(inArray(instances.joiningKeyId, keyIds))
    .groupBy(instances.joiningKeyId);
  return new Map(rows.map((r) => [r.keyId ?? "", Number(r.n)]));
}
