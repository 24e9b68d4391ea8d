// API tokens (client id + secret). Tokens scoped to the managed-instance role are the
// joining keys; administrator/readonly tokens authenticate the JSON admin API.
// Secrets are ≥160-bit random, shown once, stored as SHA-256 (they are not human
// passwords, so a fast hash compared in constant time is the right tool).
import { and, desc, eq, gte, isNotNull, like, lt, ne, or, sql } from "drizzle-orm";
import { sha256Hex, verifySecretHash } from "../lib/crypto";
import { newClientId, newClientSecret, newId } from "../lib/ids";
import type { HubDb } from "./client";
import { isStorageError } from "./storage-errors";
import { ROLE, type RoleId } from "./roles";
import { apiTokens, instances, principalRoles, principals } from "./schema";

export type ApiToken = typeof apiTokens.$inferSelect;

export interface CreateTokenInput {
  principalId: string;
  title: string;
  roleId: RoleId;
  groupName?: string | null;
  expiresAt?: number | null;
  maxUses?: number | null;
  createdBy?: string | null;
}

/** Creates a token; the returned secret exists nowhere else afterwards. */
export async function createApiToken(db: HubDb, input: CreateTokenInput) {
  const clientId = newClientId();
  const secret = newClientSecret();
  const id = newId("tok_");
  await db.insert(apiTokens).values({
    id,
    clientId,
    secretHash: sha256Hex(secret),
    principalId: input.principalId,
    title: input.title,
    roleId: input.roleId,
    groupName: input.groupName || null,
    expiresAt: input.expiresAt ?? null,
    maxUses: input.maxUses ?? null,
    createdAt: Date.now(),
    createdBy: input.createdBy ?? null,
  });
  return { id, clientId, secret };
}

export async function getApiTokenByClientId(db: HubDb, clientId: string) {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.clientId, clientId));
  return row;
}

export async function getApiToken(db: HubDb, id: string) {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  return row;
}

export async function listApiTokens(db: HubDb, opts: { q?: string; roleId?: RoleId; hideRevoked?: boolean; offset?: number; limit?: number } = {}) {
  const conds = [];
  if (opts.roleId) conds.push(eq(apiTokens.roleId, opts.roleId));
  if (opts.hideRevoked) conds.push(ne(apiTokens.state, "revoked"));
  if (opts.q) {
    const p = `%${opts.q}%`;
    conds.push(or(like(apiTokens.title, p), like(apiTokens.clientId, p), like(apiTokens.groupName, p)));
  }
  const where = conds.length ? and(...conds) : undefined;
  const limit = Math.min(opts.limit ?? 25, 200);
  const rows = await db
    .select({ token: apiTokens, principalTitle: principals.title })
    .from(apiTokens)
    .innerJoin(principals, eq(principals.id, apiTokens.principalId))
    .where(where)
    .orderBy(desc(apiTokens.createdAt))
    .limit(limit)
    .offset(opts.offset ?? 0);
  const [{ total }] = await db.select({ total: sql<number>`count(*)` }).from(apiTokens).where(where);
  return { total: Number(total), rows: rows.map((r) => ({ ...r.token, principalTitle: r.principalTitle })) };
}

/**
 * revoke: the token stops working, and so does every instance joined with it.
 * retire: no new joins; instances already joined keep working (key rotation).
 */
export async function setApiTokenState(db: HubDb, id: string, state: "revoked" | "retired" | "active") {
  const res = await db
    .update(apiTokens)
    .set({ state, revokedAt: state === "revoked" ? Date.now() : null })
    .where(eq(apiTokens.id, id))
    .returning({ id: apiTokens.id });
  return res.length > 0;
}

/** Public view of a token: never includes the secret hash. */
export function tokenView(t: ApiToken & { principalTitle?: string }, now = Date.now()) {
  return {
    id: t.id,
    clientId: t.clientId,
    title: t.title,
    role: t.roleId,
    principalId: t.principalId,
    principalTitle: t.principalTitle,
    group: t.groupName,
    status: tokenStatus(t, now),
    expiresAt: t.expiresAt,
    maxUses: t.maxUses,
    useCount: t.useCount,
    lastUsedAt: t.lastUsedAt,
    lastUsedIp: t.lastUsedIp,
    lastInstanceId: t.lastInstanceId,
    createdAt: t.createdAt,
  };
}

export type TokenStatus = "active" | "retired" | "revoked" | "expired" | "used-up";

export function tokenStatus(t: Pick<ApiToken, "state" | "expiresAt" | "maxUses" | "useCount">, now = Date.now()): TokenStatus {
  if (t.state === "revoked") return "revoked";
  if (t.expiresAt !== null && t.expiresAt <= now) return "expired";
  if (t.state === "retired") return "retired";
  if (t.maxUses !== null && t.useCount >= t.maxUses) return "used-up";
  return "active";
}

// A fixed hash to compare against when the client id is unknown, so response time
// does not reveal which client ids exist.
const DUMMY_HASH = sha256Hex("certhub-dummy-secret");

export type TokenCheck =
  | { ok: true; token: ApiToken }
  | { ok: false; reason: "invalid" | "revoked" | "expired" | "retired" | "used-up" | "wrong-role" | "disabled" | "owner-lacks-role"; token?: ApiToken };

/** SQL: the token's owner is enabled and still holds the role the token is scoped to. */
const ownerStillEntitled = sql`EXISTS (SELECT 1 FROM ${principals} p JOIN ${principalRoles} pr ON pr.principal_id = p.id
  WHERE p.id = ${apiTokens.principalId} AND p.disabled = 0 AND pr.role_id = ${apiTokens.roleId})`;

/** Checks a client id + secret pair; `purpose` decides which states are acceptable. */
export async function checkApiToken(
  db: HubDb,
  clientId: string,
  secret: string,
  purpose: "join" | "admin-api",
): Promise<TokenCheck> {
  const [row] = await db
    .select({ token: apiTokens, disabled: principals.disabled, entitled: sql<number>`${ownerStillEntitled}` })
    .from(apiTokens)
    .innerJoin(principals, eq(principals.id, apiTokens.principalId))
    .where(eq(apiTokens.clientId, clientId));
  const matches = verifySecretHash(secret, row?.token.secretHash ?? DUMMY_HASH);
  if (!row || !matches) return { ok: false, reason: "invalid" };
  return tokenUsability(row.token, row.disabled, Boolean(row.entitled), purpose);
}

/** The rules shared by checkApiToken and checkJoiningKey, once the token is identified. */
function tokenUsability(token: ApiToken, ownerDisabled: boolean, ownerEntitled: boolean, purpose: "join" | "admin-api"): TokenCheck {
  if (ownerDisabled) return { ok: false, reason: "disabled", token };
  const status = tokenStatus(token);
  if (status !== "active") return { ok: false, reason: status, token };
  const roleOk = purpose === "join" ? token.roleId === ROLE.managedInstance : token.roleId !== ROLE.managedInstance;
  if (!roleOk) return { ok: false, reason: "wrong-role", token };
  // A joining key must not outlive its owner's changes: losing the role ends new joins.
  // (Admin API tokens get the same rule from the auth middleware, which acts with no role.)
  if (purpose === "join" && !ownerEntitled) return { ok: false, reason: "owner-lacks-role", token };
  return { ok: true, token };
}

/**
 * Checks a joining key by row id (no secret: the caller proved possession some other way,
 * e.g. an instance's retired key re-joining after an identity reset).
 */
export async function checkJoiningKey(db: HubDb, id: string): Promise<TokenCheck> {
  const [row] = await db
    .select({ token: apiTokens, disabled: principals.disabled, entitled: sql<number>`${ownerStillEntitled}` })
    .from(apiTokens)
    .innerJoin(principals, eq(principals.id, apiTokens.principalId))
    .where(eq(apiTokens.id, id));
  if (!row) return { ok: false, reason: "invalid" };
  return tokenUsability(row.token, row.disabled, Boolean(row.entitled), "join");
}

/**
 * Counts one use atomically; false when a concurrent use took the last one or the
 * key was revoked/retired/expired meanwhile.
 */
export function consumeApiTokenUse(db: HubDb, id: string, ip: string | null) {
  return consumeUse(db, id, ip, undefined, false);
}

/**
 * Counts one use of a joining key atomically, for an instance about to be created; false when
 * the key stopped being usable meanwhile — including its owner being disabled or losing the
 * key's role — so a check-then-consume race cannot let a join through.
 */
export function consumeJoiningKeyUse(db: HubDb, id: string, ip: string | null, instanceId: string) {
  return consumeUse(db, id, ip, instanceId, true);
}

async function consumeUse(db: HubDb, id: string, ip: string | null, instanceId: string | undefined, requireEntitledOwner: boolean) {
  try {
    return await countUse(db, id, ip, instanceId, requireEntitledOwner);
  } catch (err) {
    // Disk full or read-only: an admin API token without a use limit was already checked,
    // and counting its use is bookkeeping — so reads through the API keep working. A limited
    // token (or a join, which writes anyway) must be counted, so it fails.
    if (requireEntitledOwner || !isStorageError(err)) throw err;
    const [row] = await db.select({ maxUses: apiTokens.maxUses }).from(apiTokens).where(eq(apiTokens.id, id));
    if (row && row.maxUses === null) return true;
    throw err;
  }
}

async function countUse(db: HubDb, id: string, ip: string | null, instanceId: string | undefined, requireEntitledOwner: boolean) {
  const now = Date.now();
  const res = await db
    .update(apiTokens)
    .set({
      useCount: sql`${apiTokens.useCount} + 1`,
      lastUsedAt: now,
      lastUsedIp: ip,
      ...(instanceId ? { lastInstanceId: instanceId } : {}),
    })
    .where(
      and(
        eq(apiTokens.id, id),
        eq(apiTokens.state, "active"),
        sql`(${apiTokens.maxUses} IS NULL OR ${apiTokens.useCount} < ${apiTokens.maxUses})`,
        sql`(${apiTokens.expiresAt} IS NULL OR ${apiTokens.expiresAt} > ${now})`,
        requireEntitledOwner ? ownerStillEntitled : undefined,
      ),
    )
    .returning({ id: apiTokens.id });
  return res.length > 0;
}

export const TOKEN_ERROR_MESSAGES: Record<Exclude<TokenCheck, { ok: true }>["reason"], string> = {
  invalid: "unknown client id or wrong secret",
  revoked: "this key has been revoked",
  expired: "this key has expired",
  retired: "this key is retired and accepts no new joins",
  "used-up": "this key has reached its maximum number of uses",
  "wrong-role": "this key is not valid for this purpose",
  disabled: "the principal owning this key is disabled",
  "owner-lacks-role": "the principal owning this key no longer holds the key's role",
};

/** The fields the token gauges count by (every token; the table stays small). */
export function tokenCountRows(db: HubDb) {
  return db
    .select({ roleId: apiTokens.roleId, state: apiTokens.state, expiresAt: apiTokens.expiresAt, maxUses: apiTokens.maxUses, useCount: apiTokens.useCount })
    .from(apiTokens)
    .where(sql`1`);
}

/** What the agent API checks of a joining key on every request (cached by the fleet). */
export async function joiningKeyState(db: HubDb, id: string) {
  const [row] = await db.select({ state: apiTokens.state, title: apiTokens.title, clientId: apiTokens.clientId }).from(apiTokens).where(eq(apiTokens.id, id));
  return row ?? null;
}

/** Ids of keys revoked at or after `since` (the fleet's watcher for revocations by the CLI). */
export function keysRevokedSince(db: HubDb, since: number) {
  return db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.state, "revoked"), gte(apiTokens.revokedAt, since)));
}

/** Joining keys not revoked (the dashboard picks the active ones with tokenStatus). */
export function unrevokedJoiningKeys(db: HubDb) {
  return db
    .select({ clientId: apiTokens.clientId, title: apiTokens.title, state: apiTokens.state, expiresAt: apiTokens.expiresAt, maxUses: apiTokens.maxUses, useCount: apiTokens.useCount, createdAt: apiTokens.createdAt })
    .from(apiTokens)
    .where(and(eq(apiTokens.roleId, ROLE.managedInstance), ne(apiTokens.state, "revoked")));
}

/** Revoked keys are listed for a while (who had access, and why their instances are cut off). */
export const REVOKED_TOKEN_KEEP_MS = 30 * 86_400_000;

/**
 * Deletes tokens revoked before `before` that no instance still names as its joining key (those
 * stay, so their instances can say why they are cut off). The audit log keeps their history.
 */
export async function purgeRevokedTokens(db: HubDb, before: number): Promise<number> {
  const rows = await db
    .delete(apiTokens)
    .where(and(eq(apiTokens.state, "revoked"), lt(apiTokens.revokedAt, before), sql`not exists (select 1 from instances i where i.joining_key_id = ${apiTokens.id})`))
    .returning({ id: apiTokens.id });
  return rows.length;
}

/** Group names known to the hub: joining keys' groups and joined instances' groups, sorted. */
export async function knownGroupNames(db: HubDb, limit = 500): Promise<string[]> {
  const rows = await db.all<{ g: string }>(sql`
    select g from (
      select ${apiTokens.groupName} as g from ${apiTokens} where ${isNotNull(apiTokens.groupName)}
      union
      select ${instances.groupName} as g from ${instances} where ${isNotNull(instances.groupName)}
    ) where g <> '' order by g limit ${limit}`);
  return rows.map((r) => r.g);
}
