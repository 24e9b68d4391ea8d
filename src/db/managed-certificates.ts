// Managed certificate definitions (what the hub asks an instance's agent to obtain and keep).
// The agent's reports about them live in certificates.ts (source "managed", same id).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { HubDb } from "./client";
import { certificates, managedCertificates } from "./schema";

export type ManagedCertificateRow = typeof managedCertificates.$inferSelect;

export async function insertManagedCertificate(db: HubDb, row: ManagedCertificateRow) {
  await db.insert(managedCertificates).values(row);
}

export async function updateManagedCertificateRow(db: HubDb, id: string, patch: Partial<Omit<ManagedCertificateRow, "id" | "instanceId" | "createdAt">>) {
  const rows = await db.update(managedCertificates).set({ ...patch, updatedAt: Date.now() }).where(eq(managedCertificates.id, id)).returning({ id: managedCertificates.id });
  return rows.length > 0;
}

export async function deleteManagedCertificateRow(db: HubDb, id: string) {
  const rows = await db.delete(managedCertificates).where(eq(managedCertificates.id, id)).returning({ id: managedCertificates.id });
  return rows.length > 0;
}

export async function getManagedCertificate(db: HubDb, id: string): Promise<ManagedCertificateRow | undefined> {
  const [row] = await db.select().from(managedCertificates).where(eq(managedCertificates.id, id));
  return row;
}

/** Definitions with the agent's last report of each (null before the first), one query. */
export function listManagedCertificates(db: HubDb, o: { instanceId?: string; limit?: number; offset?: number } = {}) {
  return db
    .select({ def: managedCertificates, report: certificates })
    .from(managedCertificates)
    .leftJoin(certificates, and(eq(certificates.instanceId, managedCertificates.instanceId), eq(certificates.id, managedCertificates.id)))
    .where(o.instanceId ? eq(managedCertificates.instanceId, o.instanceId) : undefined)
    .orderBy(asc(managedCertificates.name), asc(managedCertificates.id))
    .limit(Math.min(Math.max(o.limit ?? 1000, 1), 5000))
    .offset(o.offset ?? 0);
}

/** An instance's definitions, for its config and for keeping its not-yet-reported ones. */
export function managedCertificatesOf(db: HubDb, instanceId: string) {
  return db.select().from(managedCertificates).where(eq(managedCertificates.instanceId, instanceId)).orderBy(asc(managedCertificates.id));
}

/** Several instances' definitions in one query (concurrent config syncs), by instance then id. */
export function managedCertificatesOfInstances(db: HubDb, instanceIds: string[]) {
  return db
    .select()
    .from(managedCertificates)
    .where(inArray(managedCertificates.instanceId, instanceIds))
    .orderBy(asc(managedCertificates.instanceId), asc(managedCertificates.id));
}

export async function managedCertificateByInstance(db: HubDb, instanceId: string, id: string) {
  const [row] = await db.select().from(managedCertificates).where(and(eq(managedCertificates.instanceId, instanceId), eq(managedCertificates.id, id)));
  return row;
}

/** The certificates using a CA account, by name (a page), and their total. */
export async function certificatesUsingAccount(db: HubDb, caAccountId: string, limit: number) {
  const [rows, [{ n }]] = await Promise.all([
    db
      .select({ id: managedCertificates.id, name: managedCertificates.name })
      .from(managedCertificates)
      .where(eq(managedCertificates.caAccountId, caAccountId))
      .orderBy(asc(managedCertificates.name))
      .limit(limit),
    db.select({ n: sql<number>`count(*)` }).from(managedCertificates).where(eq(managedCertificates.caAccountId, caAccountId)),
  ]);
  return { rows, total: Number(n) };
}
