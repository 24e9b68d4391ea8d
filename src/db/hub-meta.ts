// hub_meta: small key/value rows of the hub itself — the first-start claim and the change feed
// between hub processes on one database (src/hub/fleet/change-feed.ts).
import { and, eq, gt, lt, sql } from "drizzle-orm";
import type { HubDb } from "./client";
import { hubMeta } from "./schema";

const BOOTSTRAPPED = "bootstrapped_at";

export async function isBootstrapped(db: HubDb): Promise<boolean> {
  const rows = await db.select({ key: hubMeta.key }).from(hubMeta).where(eq(hubMeta.key, BOOTSTRAPPED)).limit(1);
  return rows.length > 0;
}

/** Claims the first start atomically: true for exactly one of several processes starting together. */
export async function claimBootstrap(db: HubDb, now = Date.now()): Promise<boolean> {
  const claimed = await db.insert(hubMeta).values({ key: BOOTSTRAPPED, value: String(now) }).onConflictDoNothing().returning();
  return claimed.length > 0;
}

/** Gives the claim back after a failed first start, so the next start tries again. */
export async function releaseBootstrap(db: HubDb): Promise<void> {
  await db.delete(hubMeta).where(eq(hubMeta.key, BOOTSTRAPPED));
}

export async function putMeta(db: HubDb, key: string, value: string): Promise<void> {
  await db.insert(hubMeta).values({ key, value });
}

/** Rows with from < key < to (keys sort by time in the change feed). */
export function metaBetween(db: HubDb, from: string, to: string) {
  return db.select().from(hubMeta).where(and(gt(hubMeta.key, from), lt(hubMeta.key, to)));
}

export async function deleteMetaBetween(db: HubDb, from: string, to: string): Promise<void> {
  await db.delete(hubMeta).where(and(gt(hubMeta.key, from), lt(hubMeta.key, to)));
}

/**
 * SQLite's PRAGMA data_version: changes when another connection commits. NaN when the
 * database cannot say (a libSQL server).
 */
export async function dataVersion(db: HubDb): Promise<number> {
  const rows = await db.all<{ data_version: number }>(sql`PRAGMA data_version`);
  return Number(rows[0]?.data_version);
}
