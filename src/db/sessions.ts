// Server-side admin sessions: the cookie holds a random token, the database its SHA-256.
// Sessions end on logout, after an idle period, or at an absolute expiry (the lifetimes come
// from the hub config, src/hub/config.ts, and are passed in).
// Refreshing last-seen is best-effort: a signed-in page is a read, and must keep working when the
// database cannot be written (full disk); the refresh is retried on a later request.
import { and, eq, lt, ne, or, sql } from "drizzle-orm";
import { describeStorageError } from "./storage-errors";
import { randomToken, sha256Hex } from "../lib/crypto";
import { SECRET_PREFIX } from "../lib/ids";
import type { HubDb } from "./client";
import type { RoleId } from "./roles";
import { principals, sessions, users } from "./schema";

export interface SessionLifetimes {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, however busy. */
  absoluteMs: number;
}

export const DEFAULT_SESSION_LIFETIMES: SessionLifetimes = { idleMs: 2 * 3600_000, absoluteMs: 24 * 3600_000 };

// Refresh last-seen at most this often, so page views do not each write to the database; a
// quarter of a short idle time, so an active session never idles out between refreshes.
const TOUCH_EVERY_MS = 60_000;
const touchEvery = (l: SessionLifetimes) => Math.min(TOUCH_EVERY_MS, l.idleMs / 4);

export async function createSession(
  db: HubDb,
  principalId: string,
  meta: { ip?: string | null; userAgent?: string | null },
  lifetimes: SessionLifetimes = DEFAULT_SESSION_LIFETIMES,
) {
  const token = SECRET_PREFIX.session + randomToken(24);
  const now = Date.now();
  const csrfToken = randomToken(20);
  await db.insert(sessions).values({
    idHash: sha256Hex(token),
    principalId,
    csrfToken,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + lifetimes.absoluteMs,
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
export async function validateSession(db: HubDb, token: string, lifetimes: SessionLifetimes = DEFAULT_SESSION_LIFETIMES, now = Date.now()): Promise<LiveSession | undefined> {
  const idHash = sha256Hex(token);
  let lookup = lookups.get(db);
  if (!lookup) lookups.set(db, (lookup = sessionLookup(db)));
  const [row] = await lookup.execute({ idHash });
  if (!row) return undefined;
  const s = row.session;
  if (row.disabled || s.expiresAt <= now || s.lastSeenAt + lifetimes.idleMs <= now) {
    // Ended either way; the periodic purge removes the row if this delete cannot be written.
    await bestEffort(db, () => db.delete(sessions).where(eq(sessions.idHash, idHash)));
    return undefined;
  }
  if (now - s.lastSeenAt > touchEvery(lifetimes)) {
    await bestEffort(db, () => db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.idHash, idHash)));
  }
  return { session: s, label: row.username ?? row.title, roles: (row.roles ? row.roles.split(",") : []) as RoleId[] };
}

// One log line per run of failures (per database), not one per request on a full disk.
const failing = new WeakSet<HubDb>();

/** Runs a session bookkeeping write; a failure is logged once and the request carries on. */
async function bestEffort(db: HubDb, write: () => Promise<unknown>) {
  try {
    await write();
    if (failing.delete(db)) console.error("certhub: session last-seen updates are written again");
  } catch (err) {
    if (failing.has(db)) return;
    failing.add(db);
    const why = describeStorageError(err) ?? (err instanceof Error ? err.message : String(err));
    console.error(`certhub: cannot record session activity (pages keep working; retried on later requests): ${why}`);
  }
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

export async function purgeExpiredSessions(db: HubDb, lifetimes: SessionLifetimes, now = Date.now()) {
  await db.delete(sessions).where(or(lt(sessions.expiresAt, now), lt(sessions.lastSeenAt, now - lifetimes.idleMs)));
}
