// Refused attempts are audited as one row per limiter key and window, with a running count,
// instead of one row each: a flood of refused sign-ins costs the audit log one row, not 200/s.
// The first refusal inserts the row at once; later ones bump an in-memory count that is
// written back at most every FLUSH_DELAY_MS.
import { audit, updateAuditDetail, type Actor } from "../../db/audit";
import type { HubDb } from "../../db/client";

export const FLUSH_DELAY_MS = 2_000;

interface Burst {
  id: Promise<number | undefined>;
  windowEnd: number;
  detail: Record<string, unknown> & { count: number };
  timer?: ReturnType<typeof setTimeout>;
}

export class AuditBursts {
  private bursts = new Map<string, Burst>();

  constructor(private readonly db: HubDb) {}

  /** Counts one refused attempt for `key` in the window ending at `windowEnd`. */
  async record(key: string, windowEnd: number, actor: Actor, action: string, detail: Record<string, unknown>) {
    const now = Date.now();
    const open = this.bursts.get(key);
    if (open && open.windowEnd > now) {
      open.detail.count++;
      open.timer ??= setTimeout(() => void this.flush(key, open), FLUSH_DELAY_MS);
      open.timer.unref?.();
      return;
    }
    if (open) await this.flush(key, open);
    if (this.bursts.size > 10_000) this.sweep(now);
    const burst: Burst = { windowEnd, detail: { ...detail, count: 1, windowEndsAt: new Date(windowEnd).toISOString() }, id: Promise.resolve(undefined) };
    burst.id = audit(this.db, actor, action, null, burst.detail, "failure").catch(() => undefined);
    this.bursts.set(key, burst);
    await burst.id;
  }

  private async flush(key: string, burst: Burst) {
    if (burst.timer) clearTimeout(burst.timer);
    burst.timer = undefined;
    const id = await burst.id;
    if (id !== undefined) await updateAuditDetail(this.db, id, burst.detail).catch(() => {});
    if (burst.windowEnd <= Date.now() && this.bursts.get(key) === burst) this.bursts.delete(key);
  }

  /** Writes every pending count now (shutdown, tests). */
  async flushAll() {
    await Promise.all([...this.bursts].filter(([, b]) => b.timer).map(([k, b]) => this.flush(k, b)));
  }

  private sweep(now: number) {
    for (const [k, b] of this.bursts) if (b.windowEnd <= now && !b.timer) this.bursts.delete(k);
  }
}
