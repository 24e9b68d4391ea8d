// Security principals (users and applications/services) and user sign-in credentials.
import { and, asc, eq, like, or, sql } from "drizzle-orm";
import { newId } from "../lib/ids";
import type { HubDb } from "./client";
import { rolesOf, setRoles, type RoleId } from "./roles";
import { principals, users } from "./schema";

export type PrincipalType = "user" | "service";

export const MANAGED_INSTANCE_PRINCIPAL_TITLE = "Hub Managed Instance";

export async function createPrincipal(
  db: HubDb,
  input: { type: PrincipalType; title: string; description?: string; email?: string | null; roles?: RoleId[] },
) {
  const now = Date.now();
  const id = newId("p_");
  await db.insert(principals).values({
    id,
    type: input.type,
    title: input.title,
    description: input.description ?? "",
    email: input.email ?? null,
    createdAt: now,
    updatedAt: now,
  });
  if (input.roles?.length) await setRoles(db, id, input.roles);
  return id;
}

export async function createUser(
  db: HubDb,
  input: { username: string; password: string; title?: string; email?: string | null; roles: RoleId[] },
) {
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    const id = await createPrincipal(tx as unknown as HubDb, {
      type: "user",
      title: input.title ?? input.username,
      email: input.email,
      roles: input.roles,
    });
    await tx.insert(users).values({ principalId: id, username: input.username, passwordHash, passwordChangedAt: Date.now() });
    return id;
  });
}

export function hashPassword(password: string) {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

export async function findUserByUsername(db: HubDb, username: string) {
  const [row] = await db
    .select({ user: users, principal: principals })
    .from(users)
    .innerJoin(principals, eq(users.principalId, principals.id))
    .where(sql`lower(${users.username}) = lower(${username})`);
  return row;
}

export async function setPassword(db: HubDb, principalId: string, password: string) {
  await db
    .update(users)
    .set({ passwordHash: await hashPassword(password), passwordChangedAt: Date.now() })
    .where(eq(users.principalId, principalId));
}

/** Stamps a successful sign-in (shown on the Users page). */
export async function recordSignIn(db: HubDb, principalId: string, at = Date.now()) {
  await db.update(users).set({ lastLoginAt: at }).where(eq(users.principalId, principalId));
}

export async function getPrincipal(db: HubDb, id: string) {
  const [row] = await db
    .select({ principal: principals, username: users.username, lastLoginAt: users.lastLoginAt })
    .from(principals)
    .leftJoin(users, eq(users.principalId, principals.id))
    .where(eq(principals.id, id));
  if (!row) return undefined;
  return { ...row.principal, username: row.username, lastLoginAt: row.lastLoginAt, roles: await rolesOf(db, id) };
}

export async function updatePrincipal(
  db: HubDb,
  id: string,
  patch: Partial<{ title: string; description: string; email: string | null; disabled: boolean }>,
) {
  await db.update(principals).set({ ...patch, updatedAt: Date.now() }).where(eq(principals.id, id));
}

export async function listPrincipals(db: HubDb, opts: { q?: string; type?: PrincipalType; offset?: number; limit?: number } = {}) {
  const conds = [];
  if (opts.type) conds.push(eq(principals.type, opts.type));
  if (opts.q) {
    const p = `%${opts.q}%`;
    conds.push(or(like(principals.title, p), like(users.username, p), like(principals.email, p)));
  }
  const where = conds.length ? and(...conds) : undefined;
  const limit = Math.min(opts.limit ?? 25, 200);
  const rows = await db
    .select({
      principal: principals,
      username: users.username,
      lastLoginAt: users.lastLoginAt,
      roles: sql<string | null>`(select group_concat(role_id) from principal_roles pr where pr.principal_id = ${principals.id})`,
    })
    .from(principals)
    .leftJoin(users, eq(users.principalId, principals.id))
    .where(where)
    .orderBy(asc(principals.type), asc(principals.title))
    .limit(limit)
    .offset(opts.offset ?? 0);
  const [{ total }] = await db
    .select({ total: sql<number>`count(*)` })
    .from(principals)
    .leftJoin(users, eq(users.principalId, principals.id))
    .where(where);
  return {
    total: Number(total),
    rows: rows.map((r) => ({
      ...r.principal,
      username: r.username,
      lastLoginAt: r.lastLoginAt,
      roles: (r.roles ? r.roles.split(",") : []) as RoleId[],
    })),
  };
}

export async function findManagedInstancePrincipal(db: HubDb) {
  const [row] = await db
    .select()
    .from(principals)
    .where(and(eq(principals.type, "service"), eq(principals.title, MANAGED_INSTANCE_PRINCIPAL_TITLE)))
    .limit(1);
  return row;
}

/** Principals counted by type and disabled flag (the dashboard's people tile). */
export function countPrincipals(db: HubDb) {
  return db
    .select({ type: principals.type, disabled: principals.disabled, n: sql<number>`count(*)` })
    .from(principals)
    .groupBy(principals.type, principals.disabled);
}
