// ACME account keys per (CA account, directory URL). The private JWK is created by the agent,
// stored only here (agent.db is 0600) and never sent anywhere; the hub sees an AccountReport.
import { and, asc, eq } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import type { AccountReport } from "../../protocol/certificates";
import type * as schema from "./schema";
import { caAccountKeys } from "./schema";

type Db = LibSQLDatabase<typeof schema>;
export type AccountKeyRow = typeof caAccountKeys.$inferSelect;

export async function getAccountKey(db: Db, caAccountId: string, directoryUrl: string): Promise<AccountKeyRow | undefined> {
  const [row] = await db.select().from(caAccountKeys).where(and(eq(caAccountKeys.caAccountId, caAccountId), eq(caAccountKeys.directoryUrl, directoryUrl)));
  return row;
}

export async function saveAccountState(
  db: Db,
  caAccountId: string,
  directoryUrl: string,
  state: { status: AccountKeyRow["status"]; message?: string | null; accountUrl?: string | null; keyJwk?: string | null },
) {
  const now = Date.now();
  const values = { caAccountId, directoryUrl, status: state.status, message: state.message ?? null, updatedAt: now } as typeof caAccountKeys.$inferInsert;
  if (state.accountUrl !== undefined) values.accountUrl = state.accountUrl;
  if (state.keyJwk !== undefined) values.keyJwk = state.keyJwk;
  const { caAccountId: _a, directoryUrl: _d, ...set } = values;
  await db.insert(caAccountKeys).values(values).onConflictDoUpdate({ target: [caAccountKeys.caAccountId, caAccountKeys.directoryUrl], set });
}

/** Registration state of the CA accounts in `current` (caAccountId → directoryUrl), for the hub. */
export async function accountReports(db: Db, current: { id: string; directoryUrl: string }[]): Promise<AccountReport[]> {
  if (current.length === 0) return [];
  const rows = await db.select().from(caAccountKeys).orderBy(asc(caAccountKeys.caAccountId));
  const out: AccountReport[] = [];
  for (const acc of current) {
    const row = rows.find((r) => r.caAccountId === acc.id && r.directoryUrl === acc.directoryUrl);
    if (!row) continue; // not used yet: nothing to report
    out.push({
      caAccountId: acc.id,
      status: row.status,
      ...(row.message ? { message: row.message.slice(0, 2000) } : {}),
      ...(row.accountUrl ? { accountUrl: row.accountUrl } : {}),
      at: row.updatedAt,
    });
  }
  return out.sort((a, b) => a.caAccountId.localeCompare(b.caAccountId));
}
