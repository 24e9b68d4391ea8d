// What agents report besides their certificate list, arriving with it (same hash): CA account
// registration state per instance, and the last scan of each external ACME client.
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { AccountReport, ExternalManagerReport } from "../protocol/certificates";
import type { HubDb } from "./client";
import { accountRegistrations, externalManagers } from "./schema";

/** A database or an open transaction on it. */
type HubTx = HubDb | Parameters<Parameters<HubDb["transaction"]>[0]>[0];

export type AccountRegistrationRow = typeof accountRegistrations.$inferSelect;
export type ExternalManagerRow = typeof externalManagers.$inferSelect;

export async function replaceAccountRegistrations(tx: HubTx, instanceId: string, list: AccountReport[]) {
  await tx.delete(accountRegistrations).where(eq(accountRegistrations.instanceId, instanceId));
  for (let i = 0; i < list.length; i += 200) {
    await tx
      .insert(accountRegistrations)
      .values(list.slice(i, i + 200).map((a) => ({ instanceId, caAccountId: a.caAccountId, status: a.status, message: a.message ?? null, accountUrl: a.accountUrl ?? null, at: a.at })))
      .onConflictDoNothing();
  }
}

export async function replaceExternalManagers(tx: HubTx, instanceId: string, list: ExternalManagerReport[]) {
  await tx.delete(externalManagers).where(eq(externalManagers.instanceId, instanceId));
  if (!list.length) return;
  await tx
    .insert(externalManagers)
    .values(list.map((m) => ({ instanceId, name: m.name, status: m.status, configPath: m.configPath, certificateCount: m.certificateCount, scannedAt: m.scannedAt, problems: m.problems })))
    .onConflictDoNothing();
}

export async function accountRegistration(db: HubDb, instanceId: string, caAccountId: string) {
  const [row] = await db
    .select()
    .from(accountRegistrations)
    .where(and(eq(accountRegistrations.instanceId, instanceId), eq(accountRegistrations.caAccountId, caAccountId)));
  return row;
}

export function accountRegistrationsOf(db: HubDb, o: { instanceIds?: string[]; caAccountId?: string }) {
  const conds = [];
  if (o.instanceIds) conds.push(inArray(accountRegistrations.instanceId, o.instanceIds.length ? o.instanceIds : [""]));
  if (o.caAccountId) conds.push(eq(accountRegistrations.caAccountId, o.caAccountId));
  return db.select().from(accountRegistrations).where(conds.length ? and(...conds) : undefined);
}

export function externalManagersOf(db: HubDb, instanceId: string) {
  return db.select().from(externalManagers).where(eq(externalManagers.instanceId, instanceId));
}

/** One CA account's registrations, errors first then newest first (a page), and their total. */
export async function registrationsOfAccount(db: HubDb, caAccountId: string, limit: number) {
  const [rows, [{ n }]] = await Promise.all([
    db
      .select()
      .from(accountRegistrations)
      .where(eq(accountRegistrations.caAccountId, caAccountId))
      .orderBy(sql`${accountRegistrations.status} = 'registered'`, desc(accountRegistrations.at))
      .limit(limit),
    db.select({ n: sql<number>`count(*)` }).from(accountRegistrations).where(eq(accountRegistrations.caAccountId, caAccountId)),
  ]);
  return { rows, total: Number(n) };
}
