// In-memory view of what the agent API checks on every request, so a sync costs no
// per-request parsing or lookups that could be done once:
// - instances: parsed public keys, sequence state, versions. Loaded on first use, updated in
//   place by this process and dropped (invalidate) whenever this process changes the row.
//   Misses that arrive together (a fleet reconnecting after a restart, a burst of upgrades)
//   are loaded with one query per batch: each libSQL statement leaves ~20 KiB of native
//   memory until the JS garbage collector finalizes it, and 10,000 one-row queries in a
//   burst grew the hub's malloc arena by ~210 MiB that it then kept.
// - joining key states: a short TTL, because `certhub keys revoke` runs in another process
//   and must cut instances off within seconds.
import type { KeyObject } from "node:crypto";
import type { HubDb } from "../../db/client";
import { joiningKeyState } from "../../db/api-tokens";
import { instancesByIds, instancesPage, type Instance } from "../../db/instances";
import { parsePublicKey } from "../../protocol/signing";

export interface CachedInstance {
  id: string;
  publicKeyRaw: string;
  publicKey: KeyObject;
  retiredPublicKey: KeyObject | null;
  joiningKeyId: string | null;
  groupName: string | null;
  state: "active" | "revoked";
  identityConflict: boolean;
  identityResetPending: boolean;
  lastSeq: number;
  lastBootId: string | null;
  lastSeenAt: number | null;
  settingsVersion: number;
  latestCommandSeq: number;
  commandCursor: number;
  certificatesHash: string | null;
  syncIntervalSeconds: number;
  hostname: string;
  os: string;
  arch: string;
  version: string;
  machineId: string | null;
  /** The agent's script policy as last reported (null: not reported). */
  allowScripts: boolean | null;
}

/** At most this many distinct strings are shared (agents report os/arch/version themselves). */
const MAX_INTERNED = 10_000;
const interned = new Map<string, string>();

/**
 * One copy of a string that most of the fleet has in common (joining key, group, OS,
 * architecture, agent version) instead of one per cached instance.
 */
function shared<T extends string | null>(s: T): T {
  if (s === null) return s;
  const hit = interned.get(s);
  if (hit !== undefined) return hit as T;
  if (interned.size < MAX_INTERNED) interned.set(s, s);
  return s;
}

export function toCached(row: Instance): CachedInstance {
  return {
    id: row.id,
    publicKeyRaw: row.publicKey,
    publicKey: parsePublicKey(row.publicKey),
    retiredPublicKey: row.retiredPublicKey ? parsePublicKey(row.retiredPublicKey) : null,
    joiningKeyId: shared(row.joiningKeyId),
    groupName: shared(row.groupName),
    state: row.state,
    identityConflict: row.identityConflict,
    identityResetPending: row.identityResetPending,
    lastSeq: row.lastSeq,
    lastBootId: row.lastBootId,
    lastSeenAt: row.lastSeenAt,
    settingsVersion: row.settingsVersion,
    latestCommandSeq: row.nextCommandSeq - 1,
    commandCursor: row.commandCursor,
    certificatesHash: row.certificatesHash,
    syncIntervalSeconds: row.syncIntervalSeconds,
    hostname: row.hostname,
    os: shared(row.os),
    arch: shared(row.arch),
    version: shared(row.version),
    machineId: row.machineId,
    allowScripts: row.allowScripts,
  };
}

const MAX_INSTANCES = 500_000;
/** Misses read in one query at most (SQLite's bound-parameter limit is far above). */
const LOAD_BATCH = 500;

export class InstanceCache {
  private map = new Map<string, CachedInstance>();
  private loading = new Map<string, Promise<CachedInstance | null>>();
  /** Bumped by invalidate() so a load that started before it does not re-insert stale data. */
  private generation = new Map<string, number>();

  constructor(private db: HubDb) {}

  peek(id: string): CachedInstance | undefined {
    return this.map.get(id);
  }

  async get(id: string): Promise<CachedInstance | null> {
    const hit = this.map.get(id);
    if (hit) return hit;
    const inflight = this.loading.get(id);
    if (inflight) return inflight;
    const gen = this.generation.get(id) ?? 0;
    const p = this.load(id).then((row) => {
      this.loading.delete(id);
      if (!row) return null;
      const cached = toCached(row);
      if ((this.generation.get(id) ?? 0) === gen) {
        if (this.map.size >= MAX_INSTANCES) this.map.delete(this.map.keys().next().value!);
        this.map.set(id, cached);
      }
      return cached;
    }, (err) => {
      this.loading.delete(id);
      throw err;
    });
    this.loading.set(id, p);
    return p;
  }

  private batch: Map<string, { resolve: (row: Instance | undefined) => void; reject: (err: unknown) => void }> | null = null;

  /** The row of `id`, read together with the other misses of this turn of the event loop. */
  private load(id: string): Promise<Instance | undefined> {
    return new Promise((resolve, reject) => {
      if (!this.batch) {
        this.batch = new Map();
        setImmediate(() => void this.loadBatch());
      }
      this.batch.set(id, { resolve, reject });
      if (this.batch.size >= LOAD_BATCH) void this.loadBatch();
    });
  }

  private async loadBatch() {
    const batch = this.batch;
    this.batch = null;
    if (!batch?.size) return;
    try {
      const rows = await instancesByIds(this.db, [...batch.keys()]);
      const found = new Map(rows.map((r) => [r.id, r]));
      for (const [id, w] of batch) w.resolve(found.get(id));
    } catch (err) {
      for (const w of batch.values()) w.reject(err);
    }
  }

  /**
   * Loads every instance in pages, yielding between them, so that after a hub restart a
   * large fleet's first syncs are cache hits instead of one query + key parse each.
   * Entries loaded or invalidated meanwhile win over the bulk copy. Pages are small because
   * each one (query + key parsing) holds the event loop: 2,000 rows took 80–280 ms, long
   * enough for agents reconnecting after the restart to overflow the listen queue; 250 take
   * 10–30 ms.
   */
  async warm(pageSize = 250): Promise<number> {
    let after = "";
    let loaded = 0;
    for (;;) {
      const gens = new Map(this.generation);
      const rows = await instancesPage(this.db, after, pageSize);
      for (const row of rows) {
        if (this.map.has(row.id) || this.loading.has(row.id) || (this.generation.get(row.id) ?? 0) !== (gens.get(row.id) ?? 0)) continue;
        if (this.map.size >= MAX_INSTANCES) return loaded;
        try {
          this.map.set(row.id, toCached(row));
          loaded++;
        } catch {
          // an unparsable key: leave it to get(), which reports it on that instance's request
        }
      }
      if (rows.length < pageSize) return loaded;
      after = rows[rows.length - 1].id;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  values(): IterableIterator<CachedInstance> {
    return this.map.values();
  }

  set(entry: CachedInstance) {
    this.map.set(entry.id, entry);
  }

  /**
   * Drops the entry; the next request reloads it from the database. In-memory heartbeat
   * state (lastSeq/lastSeenAt not yet flushed) is carried over by the caller (fleet).
   */
  invalidate(id: string) {
    this.map.delete(id);
    this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
  }

  get size() {
    return this.map.size;
  }
}

export interface KeyInfo {
  state: "active" | "retired" | "revoked";
  title: string;
  clientId: string;
}

export class KeyStateCache {
  private map = new Map<string, { info: KeyInfo | null; at: number }>();
  private loading = new Map<string, Promise<KeyInfo | null>>();

  constructor(
    private db: HubDb,
    private ttlMs = 2000,
  ) {}

  async get(keyId: string, now = Date.now()): Promise<KeyInfo | null> {
    const hit = this.map.get(keyId);
    if (hit && now - hit.at < this.ttlMs) return hit.info;
    const inflight = this.loading.get(keyId);
    if (inflight) return inflight;
    const p = joiningKeyState(this.db, keyId)
      .then((info) => {
        this.map.set(keyId, { info, at: Date.now() });
        return info;
      })
      .finally(() => this.loading.delete(keyId));
    this.loading.set(keyId, p);
    return p;
  }

  /** Cached state without loading (may be stale by up to the TTL). */
  peek(keyId: string): KeyInfo | null | undefined {
    return this.map.get(keyId)?.info;
  }

  invalidate(keyId?: string) {
    if (keyId) this.map.delete(keyId);
    else this.map.clear();
  }
}
