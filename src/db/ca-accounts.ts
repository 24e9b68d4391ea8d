// ACME CA accounts defined on the hub (directory URL, contact, trusted roots, EAB credential id).
import { and, asc, eq, inArray } from "drizzle-orm";
import type { HubDb } from "./client";
import { exactScope, forInstance } from "./scopes";
import type { HubTx } from "./credentials";
import { caAccounts, instances, managedCertificates } from "./schema";

export type CaAccountRow = typeof caAccounts.$inferSelect;

export async function insertCaAccount(db: HubDb, row: CaAccountRow) {
  await db.insert(caAccounts).values(row);
}

export async function updateCaAccount(db: HubDb, id: string, patch: Partial<Omit<CaAccountRow, "id" | "createdAt">>) {
  const rows = await db.update(caAccounts).set({ ...patch, updatedAt: Date.now() }).where(eq(caAccounts.id, id)).returning({ id: caAccounts.id });
  return rows.length > 0;
}

export async function deleteCaAccountRow(db: HubDb, id: string) {
  const rows = await db.delete(caAccounts).where(eq(caAccounts.id, id)).returning({ id: caAccounts.id });
  return rows.length > 0;
}

export async function getCaAccount(db: HubTx, id: string): Promise<CaAccountRow | undefined> {
  const [row] = await db.select().from(caAccounts).where(eq(caAccounts.id, id));
  return row;
}

export function listCaAccounts(
  db: HubDb,
  o: { scope?: { scope: CaAccountRow["scope"]; scopeId: string }; instance?: { id: string; groupName: string | null }; ids?: string[] } = {},
): Promise<CaAccountRow[]> {
  const conds = [];
  if (o.scope) conds.push(exactScope(caAccounts, o.scope));
  if (o.instance) conds.push(forInstance(caAccounts, o.instance));
  if (o.ids) conds.push(inArray(caAccounts.id, o.ids.length ? o.ids : [""]));
  return db.select().from(caAccounts).where(conds.length ? and(...conds) : undefined).orderBy(asc(caAccounts.title), asc(caAccounts.id));
}

/** Managed certificates that use this CA account (a delete must not strand them). */
export function certificatesUsingCaAccount(db: HubDb, id: string) {
  return db
    .select({ id: managedCertificates.id, name: managedCertificates.name, instanceId: managedCertificates.instanceId })
    .from(managedCertificates)
    .where(eq(managedCertificates.caAccountId, id))
    .orderBy(asc(managedCertificates.name));
}

/** Distinct instances with a certificate that uses this CA account. */
export async function instancesUsingCaAccount(db: HubDb, id: string): Promise<string[]> {
  const rows = await db.selectDistinct({ id: managedCertificates.instanceId }).from(managedCertificates).where(eq(managedCertificates.caAccountId, id));
  return rows.map((r) => r.id);
}

/** Certificates using this CA account, with their instance's hostname and group (scope-move check). */
export function caAccountReferences(tx: HubTx, id: string) {
  return tx
    .select({ id: managedCertificates.id, name: managedCertificates.name, instanceId: managedCertificates.instanceId, hostname: instances.hostname, groupName: instances.groupName })
    .from(managedCertificates)
    .innerJoin(instances, eq(instances.id, managedCertificates.instanceId))
    .where(eq(managedCertificates.caAccountId, id))
    .orderBy(asc(managedCertificates.name), asc(managedCertificates.id));
}

/** Moves a CA account to another scope, only if it is still at the scope the caller read. */
export async function moveCaAccountRow(tx: HubTx, id: string, from: Pick<CaAccountRow, "scope" | "scopeId">, to: Pick<CaAccountRow, "scope" | "scopeId"> & Partial<Omit<CaAccountRow, "id" | "createdAt">>): Promise<boolean> {
  const rows = await tx
    .update(caAccounts)
    .set({ ...to, updatedAt: Date.now() })
    .where(and(eq(caAccounts.id, id), eq(caAccounts.scope, from.scope), eq(caAccounts.scopeId, from.scopeId)))
    .returning({ id: caAccounts.id });
  return rows.length > 0;
}
