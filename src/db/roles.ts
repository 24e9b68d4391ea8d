// Built-in roles. Role ids are stable slugs used in code, tokens and the CLI.
import { eq } from "drizzle-orm";
import type { HubDb } from "./client";
import { principalRoles, roles } from "./schema";

export const ROLE = {
  administrator: "administrator",
  readonly: "readonly",
  managedInstance: "managed-instance",
} as const;
export type RoleId = (typeof ROLE)[keyof typeof ROLE];
export const ROLE_IDS = Object.values(ROLE) as [RoleId, ...RoleId[]];

export const BUILT_IN_ROLES = [
  { id: ROLE.administrator, title: "Administrator", description: "Full control of the hub and every managed instance." },
  { id: ROLE.readonly, title: "Read-only Viewer", description: "Can view instances, certificates and settings; cannot change anything." },
  {
    id: ROLE.managedInstance,
    title: "Management Hub Managed Instance",
    description: "Held by instances joining the hub: may join and sync, nothing else.",
  },
];

export async function ensureBuiltInRoles(db: HubDb) {
  await db.insert(roles).values(BUILT_IN_ROLES.map((r) => ({ ...r, builtIn: true }))).onConflictDoNothing();
}

export async function listRoles(db: HubDb) {
  return db.select().from(roles).orderBy(roles.title);
}

export async function rolesOf(db: HubDb, principalId: string): Promise<RoleId[]> {
  const rows = await db.select({ roleId: principalRoles.roleId }).from(principalRoles).where(eq(principalRoles.principalId, principalId));
  return rows.map((r) => r.roleId as RoleId);
}

export async function setRoles(db: HubDb, principalId: string, roleIds: RoleId[]) {
  await db.transaction(async (tx) => {
    await tx.delete(principalRoles).where(eq(principalRoles.principalId, principalId));
    if (roleIds.length) await tx.insert(principalRoles).values(roleIds.map((roleId) => ({ principalId, roleId })));
  });
}

/** Administrators can do anything; read-only viewers can only read. */
export function canWrite(roleIds: readonly string[]) {
  return roleIds.includes(ROLE.administrator);
}
export function canRead(roleIds: readonly string[]) {
  return roleIds.includes(ROLE.administrator) || roleIds.includes(ROLE.readonly);
}
