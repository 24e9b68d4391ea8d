// Commands queued for instances. Each has a per-instance sequence number (delivery order)
// and a globally unique id (the agent's idempotency key). Rows stay until the instance is
// removed, so the instance page can show history.
import { and, asc, desc, eq, gt, inArray, like, sql } from "drizzle-orm";
import { newId } from "../lib/ids";
import type { CommandResult } from "../protocol";
import type { HubDb } from "./client";
import { commands, instances } from "./schema";

export type CommandRow = typeof commands.$inferSelect;

/** Allocates the next sequence number for the instance and stores the command atomically. */
export async function insertCommand(
  db: HubDb,
  instanceId: string,
  type: string,
  payload: unknown,
  createdBy: string | null,
): Promise<{ id: string; seq: number } | null> {
  return db.transaction(async (tx) => {
    const [bumped] = await tx
      .update(instances)
      .set({ nextCommandSeq: sql`${instances.nextCommandSeq} + 1` })
      .where(eq(instances.id, instanceId))
      .returning({ next: instances.nextCommandSeq });
    if (!bumped) return null;
    const seq = bumped.next - 1;
    const id = newId("cmd_");
    await tx.insert(commands).values({
      id,
      instanceId,
      seq,
      type,
      payload: payload ?? {},
      createdAt: Date.now(),
      createdBy,
    });
    return { id, seq };
  });
}

/** Commands after the agent's cursor, oldest first. */
export async function commandsAfter(db: HubDb, instanceId: string, cursor: number, limit = 100) {
  return db
    .select()
    .from(commands)
    .where(and(eq(commands.instanceId, instanceId), gt(commands.seq, cursor)))
    .orderBy(asc(commands.seq))
    .limit(limit);
}

export async function markDelivered(db: HubDb, instanceId: string, ids: string[], now = Date.now()) {
  if (ids.length === 0) return;
  await db
    .update(commands)
    .set({ status: "delivered", deliveredAt: now })
    .where(and(eq(commands.instanceId, instanceId), inArray(commands.id, ids), eq(commands.status, "queued")));
}

/**
 * Stores results reported by the agent. Idempotent: a result reported twice (the agent
 * retries until acknowledged) is stored once. Returns the ids to acknowledge — every id
 * that belongs to this instance, whether just stored or stored earlier.
 */
export async function recordResults(db: HubDb, instanceId: string, results: CommandResult[]): Promise<string[]> {
  if (results.length === 0) return [];
  const ids = results.map((r) => r.commandId);
  return db.transaction(async (tx) => {
    const known = await tx
      .select({ id: commands.id, status: commands.status })
      .from(commands)
      .where(and(eq(commands.instanceId, instanceId), inArray(commands.id, ids)));
    const byId = new Map(known.map((k) => [k.id, k.status]));
    for (const r of results) {
      const status = byId.get(r.commandId);
      if (status !== "queued" && status !== "delivered") continue;
      await tx
        .update(commands)
        .set({
          status: r.status,
          result: JSON.stringify({ message: r.message, ...(r.data === undefined ? {} : { data: r.data }) }),
          completedAt: r.completedAt,
        })
        .where(eq(commands.id, r.commandId));
    }
    return [...byId.keys()];
  });
}

/** Records how far the agent has stored commands (never backwards). */
export async function advanceCommandCursor(db: HubDb, instanceId: string, cursor: number) {
  await db
    .update(instances)
    .set({ commandCursor: sql`max(${instances.commandCursor}, ${cursor})` })
    .where(eq(instances.id, instanceId));
}

export async function listCommands(db: HubDb, instanceId: string, limit = 25) {
  return db.select().from(commands).where(eq(commands.instanceId, instanceId)).orderBy(desc(commands.seq)).limit(limit);
}

export async function getCommand(db: HubDb, id: string) {
  const [row] = await db.select().from(commands).where(eq(commands.id, id));
  return row;
}

export function commandView(c: CommandRow) {
  return {
    id: c.id,
    instanceId: c.instanceId,
    seq: c.seq,
    type: c.type,
    payload: c.payload,
    status: c.status,
    result: c.result ? safeJson(c.result) : null,
    createdAt: c.createdAt,
    createdBy: c.createdBy,
    deliveredAt: c.deliveredAt,
    completedAt: c.completedAt,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The last commands queued for one certificate (renew, test, deploy), newest first. */
export function commandsForCertificate(db: HubDb, instanceId: string, certificateId: string, limit = 10) {
  return db
    .select()
    .from(commands)
    .where(and(eq(commands.instanceId, instanceId), like(commands.payload, `%"certificateId":${JSON.stringify(certificateId)}%`)))
    .orderBy(desc(commands.seq))
    .limit(limit);
}
