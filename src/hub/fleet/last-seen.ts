// Heartbeats (last seen, sequence, boot id, address) are kept in memory and written in one
// transaction every few seconds, so an unchanged sync costs no database write of its own.
// A crash loses at most one flush interval of "last seen" and of the sequence high-water mark
// of *unchanged* syncs only: a replay of one of those after a restart changes nothing but
// "last seen". Every request that may change state writes its sequence itself before acting
// (commitSequence, see agent-api/verify.ts), and the flush never moves lastSeq backwards.
// Sequences only move forward on the agent, so a stale lastSeq never rejects a genuine request.
import type { HubDb } from "../../db/client";
import { flushSeen, type SeenUpdate } from "../../db/instances";

export class LastSeenBatcher {
  private pending = new Map<string, SeenUpdate>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<void> | null = null;
  lastFlushMs = 0;
  lastFlushSize = 0;

  constructor(
    private db: HubDb,
    private intervalMs = 5000,
    private onError: (err: unknown) => void = (err) => console.error(`last-seen flush failed: ${err}`),
  ) {}

  start() {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  record(u: SeenUpdate) {
    this.pending.set(u.id, u);
  }

  /** Drops a pending update (the instance was deleted). */
  forget(id: string) {
    this.pending.delete(id);
  }

  get size() {
    return this.pending.size;
  }

  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const started = performance.now();
    this.flushing = flushSeen(this.db, batch)
      .then(() => {
        this.lastFlushMs = performance.now() - started;
        this.lastFlushSize = batch.length;
      })
      .catch((err) => {
        // Keep them for the next round unless a newer heartbeat arrived meanwhile.
        for (const u of batch) if (!this.pending.has(u.id)) this.pending.set(u.id, u);
        this.onError(err);
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.flushing) await this.flushing;
    await this.flush();
  }
}
