// Cross-process change feed: hub processes sharing one database tell each other which
// instances and joining keys changed (a command queued, settings bumped, revoked, reset,
// re-keyed, removed), so another process wakes its agents' long-polls and refreshes its
// instance cache within a second instead of at the next periodic sync.
//
// Rows in hub_meta (no schema change needed): key "fleet.change.<13-digit ms>.<origin>.<n>",
// value JSON {ids?, group?, all?, spread?, keyId?, scopes?}. Every process polls every 250 ms; on a local file,
// `PRAGMA data_version` (answered from the connection, no I/O) skips the query entirely when
// no other connection committed anything. Rows older than two minutes are deleted by whoever
// notices first.
import { randomBytes } from "node:crypto";
import type { HubDb } from "../../db/client";
import { dataVersion, deleteMetaBetween, metaBetween, putMeta } from "../../db/hub-meta";

export interface Change {
  /** Instances whose row changed (command, state, keys, settings version, removal). */
  ids?: string[];
  /** Settings bumped for a whole joining-key group, or for everyone. */
  group?: string;
  all?: boolean;
  /** Many instances' config changed at once: their nudges are spread (nudge-spread.ts), not sent together. */
  spread?: boolean;
  /** A joining key changed state. */
  keyId?: string;
  /**
   * Config scopes whose settings, CA accounts or credentials changed ("global:", "group:<name>",
   * "instance:<id>"): the config cache drops its parts. Published before the instances' config
   * versions are bumped, so a process that reads a bumped version has this row to read too.
   */
  scopes?: string[];
}

const PREFIX = "fleet.change.";
const KEEP_MS = 120_000;
/** How far back a poll looks: covers clock skew between processes and slow commits. */
const LOOKBACK_MS = 10_000;

const keyAt = (ms: number) => `${PREFIX}${String(Math.max(0, ms)).padStart(13, "0")}`;

export class ChangeFeed {
  readonly origin = randomBytes(6).toString("hex");
  private counter = 0;
  private seen = new Map<string, number>(); // row key → when seen, for de-duplication
  private dataVersion: number | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastPrune = 0;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;
  private appliedFrom = -Infinity;

  constructor(
    private db: HubDb,
    private apply: (changes: Change[]) => Promise<void>,
    private intervalMs = 250,
  ) {}

  /** Tells other processes; never fails the caller (they still get it at their next sync). */
  async publish(change: Change): Promise<void> {
    const key = `${keyAt(Date.now())}.${this.origin}.${++this.counter}`;
    try {
      await putMeta(this.db, key, JSON.stringify(change));
    } catch (err) {
      console.error(`certhub: change feed write failed (other hub processes learn at their next sync): ${err}`);
    }
  }

  start() {
    const tick = async () => {
      if (this.stopped) return;
      this.polling = this.poll().catch(() => {});
      await this.polling;
      if (this.stopped) return;
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref?.();
    };
    this.timer = setTimeout(tick, this.intervalMs);
    this.timer.unref?.();
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /**
   * When (performance.now()) the last poll that completed began: every change another process
   * committed before then has been applied here.
   */
  get appliedUpTo(): number {
    return this.appliedFrom;
  }

  /** One look at the feed (exposed for tests); applies changes from other processes. */
  async poll(now = Date.now()): Promise<void> {
    const began = performance.now();
    await this.pollOnce(now);
    this.appliedFrom = Math.max(this.appliedFrom, began);
  }

  private async pollOnce(now: number): Promise<void> {
    if (!(await this.somethingCommitted())) return;
    const rows = await metaBetween(this.db, keyAt(now - LOOKBACK_MS), `${PREFIX}~`);
    const changes: Change[] = [];
    for (const row of rows) {
      if (this.seen.has(row.key)) continue;
      this.seen.set(row.key, now);
      if (row.key.split(".")[3] === this.origin) continue;
      try {
        changes.push(JSON.parse(row.value) as Change);
      } catch {}
    }
    for (const [key, at] of this.seen) if (now - at > LOOKBACK_MS * 2) this.seen.delete(key);
    if (changes.length) await this.apply(changes);
    if (now - this.lastPrune > 30_000) {
      this.lastPrune = now;
      await deleteMetaBetween(this.db, PREFIX, keyAt(now - KEEP_MS));
    }
  }

  /**
   * False only when SQLite says no other connection committed since the last look. A libSQL
   * server (no data_version) always answers true: the indexed range query is cheap.
   */
  private async somethingCommitted(): Promise<boolean> {
    try {
      const v = await dataVersion(this.db);
      if (!Number.isFinite(v)) return true;
      const changed = v !== this.dataVersion;
      this.dataVersion = v;
      return changed;
    } catch {
      return true;
    }
  }
}
