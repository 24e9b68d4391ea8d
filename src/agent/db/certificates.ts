// Data access for managed certificates on the agent: the received definition plus lifecycle
// state (status, current/previous version pointers, renewal plan, attempts). The lifecycle in
// src/agent/certificates/ is the only writer.
import { asc, eq, notInArray } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import type { Attempt, ManagedCertificateSpec } from "../../protocol/certificates";
import type * as schema from "./schema";
import { agentCertificates } from "./schema";

type Db = LibSQLDatabase<typeof schema>;
export type ManagedRow = typeof agentCertificates.$inferSelect;
export type ManagedPatch = Partial<Omit<ManagedRow, "id">>;

/** Attempts kept per certificate (newest first). */
export const MAX_ATTEMPTS = 20;

export async function listManaged(db: Db): Promise<ManagedRow[]> {
  return db.select().from(agentCertificates).where(eq(agentCertificates.source, "managed")).orderBy(asc(agentCertificates.id));
}

export async function getManaged(db: Db, id: string): Promise<ManagedRow | undefined> {
  const [row] = await db.select().from(agentCertificates).where(eq(agentCertificates.id, id));
  return row;
}

/** Inserts a new definition (status pending) or refreshes an existing row's definition. */
export async function upsertDefinition(db: Db, spec: ManagedCertificateSpec, now = Date.now()) {
  const def = { name: spec.name, domains: JSON.stringify(spec.domains), spec: JSON.stringify(spec), revision: spec.revision, updatedAt: now };
  await db
    .insert(agentCertificates)
    .values({ id: spec.id, source: "managed", status: "pending", ...def })
    .onConflictDoUpdate({ target: agentCertificates.id, set: def });
}

/** Deletes managed rows whose id is not in `keep`; returns the deleted rows (their files go too). */
export async function removeManagedExcept(db: Db, keep: string[]): Promise<ManagedRow[]> {
  const rows = await listManaged(db);
  const gone = rows.filter((r) => !keep.includes(r.id));
  if (gone.length) {
    await db.delete(agentCertificates).where(
      keep.length ? notInArray(agentCertificates.id, keep) : eq(agentCertificates.source, "managed"),
    );
  }
  return gone;
}

export async function updateManaged(db: Db, id: string, patch: ManagedPatch) {
  await db.update(agentCertificates).set({ ...patch, updatedAt: Date.now() }).where(eq(agentCertificates.id, id));
}

export function parseAttempts(row: Pick<ManagedRow, "attempts">): Attempt[] {
  try {
    return JSON.parse(row.attempts) as Attempt[];
  } catch {
    return [];
  }
}

/** The attempts column with `attempt` added in front (newest first, capped). */
export function withAttempt(row: Pick<ManagedRow, "attempts">, attempt: Attempt): string {
  return JSON.stringify([attempt, ...parseAttempts(row)].slice(0, MAX_ATTEMPTS));
}
