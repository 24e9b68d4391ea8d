// Data access for the agent's database. One process owns it; the file lives in the data dir
// (mode 0700) because it holds the instance private key.
import { asc, eq, inArray, sql } from "drizzle-orm";
import { createHash } from "node:crypto";
import { chmodSync } from "node:fs";
import path from "node:path";
import { openDatabase, type OpenedDb } from "../../db/client";
import type { AccountReport, CertificateReport, ExternalManagerReport } from "../../protocol/certificates";
import type { Command, CommandResult } from "../../protocol";
import { agentMigrations } from "./migrations";
import * as schema from "./schema";
import { agentCertificates, agentSettings, externalScan, hubLink, inbox, instanceConfig, outbox } from "./schema";

export type HubLink = typeof schema.hubLink.$inferSelect;
export type InboxRow = typeof schema.inbox.$inferSelect;

/** Sequence numbers reserved per database write (a restart skips the unused rest). */
const SEQ_BLOCK = 1000;

export class AgentStore {
  private constructor(private opened: OpenedDb<typeof schema>) {}

  static async open(dataDir: string): Promise<AgentStore> {
    const file = path.join(dataDir, "agent.db");
    const opened = await openDatabase(`file:${file}`, schema, agentMigrations);
    // The database holds the instance private key: owner-only, whatever the umask.
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch {}
    }
    return new AgentStore(opened);
  }

  get db() {
    return this.opened.db;
  }

  close() {
    this.opened.close();
  }

  // ---- hub link -------------------------------------------------------------------------

  async getLink(): Promise<HubLink | undefined> {
    const [row] = await this.db.select().from(hubLink).where(eq(hubLink.id, 1));
    return row;
  }

  /** Replaces the link with a fresh join: new identity, new cursors, hub settings cleared. */
  async saveJoin(link: Omit<HubLink, "id" | "state" | "identityConflict" | "settingsVersion" | "commandCursor" | "certificatesHashAcked" | "seqReserved" | "lastSyncAt" | "lastAttemptAt" | "lastError">) {
    await this.db.transaction(async (tx) => {
      await tx.delete(hubLink);
      await tx.delete(outbox);
      await tx.delete(agentSettings).where(eq(agentSettings.source, "hub"));
      await tx.delete(instanceConfig); // the new hub sends its own (settings version starts at 0)
      await tx.insert(hubLink).values({ ...link, id: 1, seqReserved: SEQ_BLOCK });
    });
  }

  async updateLink(patch: Partial<Omit<HubLink, "id">>) {
    await this.db.update(hubLink).set(patch).where(eq(hubLink.id, 1));
  }

  async clearLink() {
    await this.db.transaction(async (tx) => {
      await tx.delete(hubLink);
      await tx.delete(outbox);
      await tx.delete(agentSettings).where(eq(agentSettings.source, "hub"));
    });
  }

  /** Reserves the next block of sequence numbers; returns the new upper bound. */
  async reserveSeq(from: number): Promise<number> {
    const upTo = from + SEQ_BLOCK;
    // max(): concurrent reservations (sync and leave) must never move the mark backwards.
    await this.db.update(hubLink).set({ seqReserved: sql`max(${hubLink.seqReserved}, ${upTo})` }).where(eq(hubLink.id, 1));
    return upTo;
  }

  // ---- commands ---------------------------------------------------------------------------

  /** Stores delivered commands; ids seen before are ignored (at-most-once). */
  async receiveCommands(cmds: Command[]): Promise<number> {
    if (cmds.length === 0) return 0;
    const now = Date.now();
    const res = await this.db
      .insert(inbox)
      .values(cmds.map((c) => ({ id: c.id, seq: c.seq, type: c.type, payload: JSON.stringify(c.payload ?? {}), receivedAt: now })))
      .onConflictDoNothing()
      .returning({ id: inbox.id });
    return res.length;
  }

  async nextCommand(): Promise<InboxRow | undefined> {
    const [row] = await this.db.select().from(inbox).where(eq(inbox.status, "received")).orderBy(asc(inbox.seq)).limit(1);
    return row;
  }

  async markRunning(id: string) {
    await this.db.update(inbox).set({ status: "running", startedAt: Date.now() }).where(eq(inbox.id, id));
  }

  /** Marks the command done and queues its result, atomically. */
  async complete(row: InboxRow, result: Omit<CommandResult, "commandId" | "seq" | "completedAt">) {
    const now = Date.now();
    await this.db.transaction(async (tx) => {
      await tx.update(inbox).set({ status: "done", completedAt: now }).where(eq(inbox.id, row.id));
      await tx
        .insert(outbox)
        .values({
          commandId: row.id,
          seq: row.seq,
          status: result.status,
          message: result.message,
          data: result.data === undefined ? null : JSON.stringify(result.data),
          completedAt: now,
        })
        .onConflictDoNothing();
    });
  }

  /** Commands that were running when the process died: they are reported, never re-run. */
  async interruptedCommands(): Promise<InboxRow[]> {
    return this.db.select().from(inbox).where(eq(inbox.status, "running")).orderBy(asc(inbox.seq));
  }

  async pendingResults(limit = 200): Promise<CommandResult[]> {
    const rows = await this.db.select().from(outbox).orderBy(asc(outbox.seq)).limit(limit);
    return rows.map((r) => ({
      commandId: r.commandId,
      seq: r.seq,
      status: r.status,
      message: r.message,
      ...(r.data ? { data: JSON.parse(r.data) } : {}),
      completedAt: r.completedAt,
    }));
  }

  async ackResults(ids: string[]) {
    if (ids.length) await this.db.delete(outbox).where(inArray(outbox.commandId, ids));
  }

  async commandStats() {
    const rows = await this.db.select({ status: inbox.status, n: sql<number>`count(*)` }).from(inbox).groupBy(inbox.status);
    const [{ n: outboxCount }] = await this.db.select({ n: sql<number>`count(*)` }).from(outbox);
    const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    return { received: by.received ?? 0, running: by.running ?? 0, done: by.done ?? 0, unacknowledgedResults: Number(outboxCount) };
  }

  /** The executed commands, oldest first (tests and diagnostics). */
  async executedCommands(limit = 1000) {
    return this.db.select().from(inbox).where(eq(inbox.status, "done")).orderBy(asc(inbox.completedAt), asc(inbox.seq)).limit(limit);
  }

  // ---- settings ---------------------------------------------------------------------------

  /** Replaces the hub-provided settings with `values`. */
  async replaceHubSettings(values: Record<string, unknown>) {
    const now = Date.now();
    await this.db.transaction(async (tx) => {
      await tx.delete(agentSettings).where(eq(agentSettings.source, "hub"));
      const rows = Object.entries(values).map(([key, v]) => ({ key, value: JSON.stringify(v), source: "hub" as const, updatedAt: now }));
      if (rows.length) await tx.insert(agentSettings).values(rows).onConflictDoUpdate({ target: agentSettings.key, set: { value: sql`excluded.value`, source: "hub", updatedAt: now } });
    });
  }

  async setSettings(values: Record<string, unknown>, source: "hub" | "command") {
    const now = Date.now();
    for (const [key, v] of Object.entries(values)) {
      await this.db
        .insert(agentSettings)
        .values({ key, value: JSON.stringify(v), source, updatedAt: now })
        .onConflictDoUpdate({ target: agentSettings.key, set: { value: JSON.stringify(v), source, updatedAt: now } });
    }
  }

  async getSettings(): Promise<Record<string, unknown>> {
    const rows = await this.db.select().from(agentSettings);
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value)]));
  }

  // ---- certificates -----------------------------------------------------------------------

  /** Managed certificates plus those of external ACME clients in the last scan. */
  async certificateCount(): Promise<number> {
    const [{ n }] = await this.db.select({ n: sql<number>`count(*)` }).from(agentCertificates).where(eq(agentCertificates.source, "managed"));
    const [scan] = await this.db.select({ certificates: externalScan.certificates }).from(externalScan).where(eq(externalScan.id, 1));
    return Number(n) + (scan ? (JSON.parse(scan.certificates) as unknown[]).length : 0);
  }
}

/** What the agent reports about certificates; the three lists travel together. */
export interface CertificateReports {
  certificates: CertificateReport[];
  accounts: AccountReport[];
  externalManagers: ExternalManagerReport[];
}

/** Stable hash of the certificate, account and external manager reports (the sync etag). */
export function hashCertificates(reports: CertificateReports): string {
  return createHash("sha256").update(JSON.stringify([reports.certificates, reports.accounts, reports.externalManagers])).digest("hex").slice(0, 32);
}
