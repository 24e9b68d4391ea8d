// Server-side admin sessions: the cookie holds a random token, the database its SHA-256.
// Sessions end on logout, after an idle period, or at an absolute expiry.
import { and, eq, lt, ne, or, sql } from "drizzle-orm";
import { randomToken, sha256Hex } from "../lib/crypto";
import { SECRET_PREFIX } from "../lib/ids";
import type { HubDb } from "./client";
import type { RoleId } from "./roles";
import { principals, sessions, users } from "./schema";

export const SESSION_IDLE_MS = Number(process.env.CERTHUB_SESSION_IDLE_SECONDS ?? 2 * 3600) * 1000;
export const SESSION_ABSOLUTE_MS = Number(process.env.CERTHUB_SESSION_MAX_SECONDS ?? 24 * 3600) * 1000;
// Refresh last-seen at most this often, so page views do not each write to the database.
const TOUCH_EVERY_MS = 60_000;

export async function createSession(db: HubDb, principalId: string, meta: { ip?: string | null; userAgent?: string | null }) {
  const token = SECRET_PREFIX.session + randomToken(24);
  const now = Date.now();
  const csrfToken = randomToken(20);
  await db.insert(sessions).values({
    idHash: sha256Hex(token),
    principalId,
    csrfToken,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_ABSOLUTE_MS,
    ip: meta.ip ?? null,
    userAgent: meta.userAgent?.slice(0, 300) ?? null,
  });
  return { token, csrfToken };
}

// Every signed-in request runs this lookup: one prepared statement (built once per database)
// returns the session with its principal's name, state and roles.
function sessionLookup(db: HubDb) {
  return db
    .select({
      session: sessions,
      disabled: principals.disabled,
      title: principals.title,
      username: users.username,
      roles: sql<string | null>`(select group_concat(role_id) from principal_roles pr where pr.principal_id = ${sessions.principalId})`,
    })
    .from(sessions)
    .innerJoin(principals, eq(principals.id, sessions.principalId))
    .leftJoin(users, eq(users.principalId, sessions.principalId))
    .where(eq(sessions.idHash, sql.placeholder("idHash")))
    .prepare();
}
const lookups = new WeakMap<HubDb, ReturnType<typeof sessionLookup>>();

export interface LiveSession {
  session: typeof sessions.$inferSelect;
  label: string; // username, else the principal's title
  roles: RoleId[];
}

/** Returns the live session for a cookie value, or undefined (expired ones are deleted). */
export async function validateSession(db: HubDb, token: string, now = Date.now()): Promise<LiveSession | undefined> {
  const idHash = sha256Hex(token);
  let lookup = lookups.get(db);
  if (!lookup) lookups.set(db, (lookup = sessionLookup(db)));
  const [row] = await lookup.execute({ idHash });
  if (!row) return undefined;
  const s = row.session;
  if (row.disabled || s.expiresAt <= now || s.lastSeenAt + SESSION_IDLE_MS <= now) {
    await db.delete(sessions).where(eq(sessions.idHash, idHash));
    return undefined;
  }
  if (now - s.lastSeenAt > TOUCH_EVERY_MS) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.idHash, idHash));
  }
  return { session: s, label: row.username ?? row.title, roles: (row.roles ? row.roles.split(",") : []) as RoleId[] };
}

export async function deleteSession(db: HubDb, idHash: string) {
  await db.delete(sessions).where(eq(sessions.idHash, idHash));
}

/** Ends every session of a principal (disabled user, password reset, "sign out everywhere"). */
export async function deleteSessionsOf(db: HubDb, principalId: string, exceptIdHash?: string): Promise<number> {
  const mine = eq(sessions.principalId, principalId);
  const gone = await db
    .delete(sessions)
    .where(exceptIdHash ? and(mine, ne(sessions.idHash, exceptIdHash)) : mine)
    .returning({ idHash: sessions.idHash });
  return gone.length;
}

export async function purgeExpiredSessions(db: HubDb, now = Date.now()) {
  await db.delete(sessions).where(or(lt(sessions.expiresAt, now), lt(sessions.lastSeenAt, now - SESSION_IDLE_MS)));
}
