// The fleet service: hub-side state of joined instances that outlives a request.
// - cache of instance credentials/sequence state and joining-key states (cache.ts)
// - batched last-seen writes (last-seen.ts)
// - push nudges for long-polling agents (notifier.ts)
// - status derivation (status.ts)
// - the only writer of `instances` rows (create / update / delete / add a command / bump config
//   versions): each write keeps this process's cache, the other processes (change feed) and
//   the agents' long-polls coherent by construction. The rules (who may do what, audit) are in
//   src/hub/core/instances.ts; "what is waiting for an agent" in waiting.ts.
import type { HubDb } from "../../db/client";
import { replaceCertificates } from "../../db/certificates";
import { advanceCommandCursor, insertCommand } from "../../db/commands";
import { keysRevokedSince } from "../../db/api-tokens";
import {
  applyRekey,
  bumpSettingsVersion,
  cacheFieldsOf,
  countInstancesByStatus,
  deleteInstance,
  getInstance,
  insertInstance,
  updateInstance,
  type Instance,
  type InstanceStatus,
  type NewInstance,
  type SettingsTarget,
} from "../../db/instances";
import type { CommandType } from "../../protocol";
import type { HubConfig } from "../config";
import type { Metrics } from "../metrics";
import { ChangeFeed, type Change } from "./change-feed";
import { InstanceCache, KeyStateCache, toCached, type CachedInstance, type KeyInfo } from "./cache";
import { LastSeenBatcher } from "./last-seen";
import { Notifier } from "./notifier";
import { NudgeSpreader } from "./nudge-spread";
import { deriveStatus } from "./status";

export type { CachedInstance, KeyInfo } from "./cache";
export { deriveStatus, versionSkew, OFFLINE_AFTER_INTERVALS } from "./status";

export interface FleetDeps {
  db: HubDb;
  metrics: Metrics;
  config: HubConfig & { lastSeenFlushMs?: number };
}

export interface FleetService {
  /** Sync interval given to newly joined instances. */
  readonly defaultSyncIntervalSeconds: number;
  readonly metrics: Metrics;

  /** Credential/sequence state for the agent API (cached; null when unknown). */
  getInstance(id: string): Promise<CachedInstance | null>;
  /** The cached entry without loading (for cheap readiness checks). */
  peekInstance(id: string): CachedInstance | undefined;
  /**
   * Re-reads the row after a change made by this process, keeping unflushed heartbeats —
   * unless `resetSequence` (a re-key just set lastSeq/lastBootId in the row: the old
   * identity's pending heartbeat must not overwrite them).
   */
  refresh(id: string, opts?: { resetSequence?: boolean }): Promise<CachedInstance | null>;
  /** Joining key state (short TTL cache: the CLI may revoke while the hub runs). */
  keyInfo(keyId: string): Promise<KeyInfo | null>;
  /** Cached joining key state without loading (undefined when not cached). */
  peekKeyState(keyId: string): KeyInfo["state"] | undefined;
  /**
   * Call after changing a joining key in this process: re-reads it at once and, when it was
   * revoked, wakes the long-polls of every instance joined with it so they learn right away.
   */
  invalidateKey(keyId?: string): void;

  /** Records a contact (batched write). */
  recordSeen(inst: CachedInstance, ip: string | null, now?: number): void;
  /** Last contact including heartbeats not yet flushed. */
  lastSeenAt(id: string, fallback: number | null): number | null;
  status(row: { id: string; state: string; identityConflict: boolean; lastSeenAt: number | null; syncIntervalSeconds: number; reinstatedAt?: number | null }, keyState: string | null | undefined, now?: number): InstanceStatus;

  /** The long-poll registry (the server sets its shedding flag and releases waits under descriptor pressure). */
  readonly push: Notifier;
  /** Wakes the instance's long-poll. */
  notify(instanceId: string): void;
  /** Long-poll: true as soon as `ready()` holds, false on timeout or disconnect. */
  waitFor(instanceId: string, ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;

  // ---- The only writers of `instances` rows (rules and audit: src/hub/core/instances.ts) ----
  /**
   * Inserts an instance, in one transaction with `guard` (e.g. consuming a joining key use;
   * false or a throw rolls back), and puts it into the cache. False when the guard refused.
   */
  createInstance(id: string, values: NewInstance, guard?: (tx: HubDb) => Promise<boolean>): Promise<boolean>;
  /**
   * Writes admin-side fields and re-reads the row into the cache (other processes hear of it);
   * `nudge` wakes the agent's long-poll. Null when there is no such instance.
   */
  updateInstance(id: string, patch: Partial<Omit<Instance, "id">>, opts?: { nudge?: boolean }): Promise<CachedInstance | null>;
  /** Hot path (the agent's own facts, a detected conflict): writes and updates the cached entry in place, no re-read. */
  patchCached(inst: CachedInstance, patch: Partial<Pick<CachedInstance, "hostname" | "os" | "arch" | "version" | "machineId" | "allowScripts" | "identityConflict">>): Promise<void>;
  /** The conditional re-key write (only while the row still holds `expectedPublicKey`); the cache follows either way. */
  rekey(id: string, expectedPublicKey: string, patch: Partial<Omit<Instance, "id">>): Promise<CachedInstance | null>;
  /** The agent stored commands up to `cursor` (never backwards); the cached entry follows. */
  advanceCursor(inst: CachedInstance, cursor: number): Promise<void>;
  /** The agent's certificate (and account, external manager) reports under their list hash. */
  storeReports(inst: CachedInstance, certificates: Parameters<typeof replaceCertificates>[2], hash: string, extras: Parameters<typeof replaceCertificates>[4]): Promise<void>;
  /** Deletes the instance (its commands and certificates go with it) and forgets it everywhere. */
  deleteInstance(id: string): Promise<boolean>;
  /** Stores a command (already checked by core/instances.ts) and wakes the agent. */
  addCommand(instanceId: string, type: CommandType, payload: unknown, createdBy: string): Promise<{ id: string; seq: number } | null>;
  /**
   * Marks the config changed for an instance, some instances, a group or everyone and nudges
   * them: one instance at once, many spread over a window (nudge-spread.ts). `scopes`: the
   * config scopes ("global:", "group:<name>", "instance:<id>") whose settings, CA accounts or
   * credentials changed — the config cache of this and every other hub process drops them
   * before any instance's version moves. Scopes alone (no instance affected) are allowed.
   */
  settingsChanged(scope: SettingsTarget, opts?: { scopes?: string[] }): Promise<number>;
  /** Listens for config scopes changed here or in another hub process (the config cache). */
  onConfigScopesChanged(listener: (scopes: string[]) => void): () => void;
  /**
   * Whether shared config parts cached in this process may be used for this instance's config:
   * true when every change another hub process committed before this process last read the
   * instance's row from the database has been applied here (the change feed polled since).
   * Otherwise its version may already be ahead of what this process knows about the scopes.
   */
  configCacheSafe(instanceId: string): boolean;
  /** Forgets an instance (cache, heartbeats) and wakes its long-poll. */
  forget(id: string): void;
  /** Writes pending heartbeats now (normally every few seconds, and on stop). */
  flushSeen(): Promise<void>;

  stop(): Promise<void>;
}

export function createFleetService(deps: FleetDeps): FleetService {
  const { db, metrics } = deps;
  const defaultSyncIntervalSeconds = clampInterval(deps.config.syncIntervalSeconds ?? 60);
  const instances = new InstanceCache(db);
  const keys = new KeyStateCache(db);
  const seen = new LastSeenBatcher(db, deps.config.lastSeenFlushMs ?? 5000);
  const notifier = new Notifier();
  const spreader = new NudgeSpreader((id) => notifier.notify(id));
  seen.start();
  // When this process read instance rows from the database outside the change feed (cache
  // miss, refresh, warm-up): configCacheSafe() compares that with the feed's progress. Only
  // reads newer than the feed's last applied poll are kept.
  const rowsReadAt = new Map<string, number>();
  let sweepAt = 10_000; // grows when a sweep frees little (feed stalled), so sweeps stay rare
  const rowsRead = (id: string) => {
    rowsReadAt.set(id, performance.now());
    if (rowsReadAt.size <= sweepAt) return;
    for (const [k, at] of rowsReadAt) if (at < feed.appliedUpTo) rowsReadAt.delete(k);
    sweepAt = Math.max(10_000, rowsReadAt.size * 2);
  };
  let warmedAt = Infinity;
  // In the background: after a restart, a large fleet's first syncs are then cache hits.
  const warming = instances
    .warm()
    .catch((err) => console.error(`instance cache warm-up failed: ${err}`))
    .finally(() => {
      warmedAt = performance.now();
    });
  const scopeListeners = new Set<(scopes: string[]) => void>();
  const scopesChanged = (scopes: string[]) => {
    for (const l of scopeListeners) {
      try {
        l(scopes);
      } catch (err) {
        console.error(`certhub: config scope listener failed: ${err}`);
      }
    }
  };

  const notifyKeyHolders = (keyId: string) => {
    for (const inst of instances.values()) if (inst.joiningKeyId === keyId) notifier.notify(inst.id);
  };
  // `certhub keys revoke` runs in another process: one small query every 2 s finds keys
  // revoked since the last look, so their instances' long-polls end within seconds instead
  // of at their timeout. Cost does not grow with the fleet.
  let revokedSince = Date.now() - 1000;
  const notifiedRevoked = new Set<string>();
  const keyWatcher = setInterval(async () => {
    const from = revokedSince;
    revokedSince = Date.now() - 1000; // overlap: a commit may land just behind the clock
    try {
      const rows = await keysRevokedSince(db, from);
      for (const { id } of rows) {
        if (notifiedRevoked.has(id)) continue;
        notifiedRevoked.add(id);
        keys.invalidate(id);
        await keys.get(id);
        notifyKeyHolders(id);
      }
    } catch {}
  }, 2000);
  keyWatcher.unref?.();

  metrics.gauge("certhub_agent_waiters", "Agent long-polls currently held open", () => [{ labels: {}, value: notifier.size }]);
  metrics.gauge("certhub_fleet_cached_instances", "Instances held in the agent API cache", () => [{ labels: {}, value: instances.size }]);
  metrics.gauge("certhub_instances", "Joined instances by status", async () =>
    Object.entries(await countInstancesByStatus(db)).map(([status, value]) => ({ labels: { status }, value })),
  );
  const commandsQueued = metrics.counter("certhub_commands_queued_total", "Commands queued for instances");

  const refresh = async (id: string, opts: { resetSequence?: boolean } = {}) => {
    const before = opts.resetSequence ? undefined : instances.peek(id);
    if (opts.resetSequence) seen.forget(id);
    instances.invalidate(id);
    const row = await getInstance(db, id);
    rowsRead(id);
    if (!row) return null;
    const fresh = toCached(row);
    if (before && before.lastSeq > fresh.lastSeq) {
      fresh.lastSeq = before.lastSeq;
      fresh.lastBootId = before.lastBootId;
    }
    if (before?.lastSeenAt && (fresh.lastSeenAt ?? 0) < before.lastSeenAt) fresh.lastSeenAt = before.lastSeenAt;
    instances.set(fresh);
    void feed.publish({ ids: [id] });
    return fresh;
  };

  // Changes made by other hub processes on the same database (change-feed.ts): refresh what
  // this process has cached, then wake the long-polls, whose ready() reads the cache.
  const applyRemote = async (changes: Change[]) => {
    // Config scopes first, before any cached version moves (see Change.scopes).
    const scopes = changes.flatMap((ch) => ch.scopes ?? []);
    if (scopes.length) scopesChanged(scopes);
    const ids = new Set<string>();
    const spreadIds = new Set<string>();
    for (const ch of changes) {
      const into = ch.spread || ch.all || ch.group !== undefined ? spreadIds : ids;
      for (const id of ch.ids ?? []) into.add(id);
      if (ch.all || ch.group !== undefined) for (const inst of instances.values()) if (ch.all || inst.groupName === ch.group) into.add(inst.id);
      if (ch.keyId) {
        keys.invalidate(ch.keyId);
        const info = await keys.get(ch.keyId).catch(() => null);
        if (info?.state === "revoked") {
          notifiedRevoked.add(ch.keyId);
          notifyKeyHolders(ch.keyId);
        }
      }
    }
    for (const id of ids) spreadIds.delete(id); // also changed otherwise: nudged at once
    const toSpread = new Set([...spreadIds].filter((id) => instances.peek(id) || notifier.has(id)));
    const list = [...ids, ...spreadIds].filter((id) => instances.peek(id) || notifier.has(id));
    for (let i = 0; i < list.length; i += 500) {
      const part = list.slice(i, i + 500);
      const rows = await cacheFieldsOf(db, part);
      const found = new Map(rows.map((r) => [r.id, r]));
      for (const id of part) {
        const row = found.get(id);
        const cached = instances.peek(id);
        if (!row) {
          instances.invalidate(id); // removed (or left) through another process
          seen.forget(id);
        } else if (cached && cached.publicKeyRaw !== row.publicKey) {
          // Re-keyed through another process: its row holds the new sequence state.
          seen.forget(id);
          instances.invalidate(id);
          await instances.get(id).catch(() => null);
          rowsRead(id);
        } else if (cached) {
          // In place: unflushed heartbeats (lastSeq, lastSeenAt) stay as they are.
          cached.state = row.state;
          cached.identityConflict = row.identityConflict;
          cached.identityResetPending = row.identityResetPending;
          cached.settingsVersion = row.settingsVersion;
          cached.latestCommandSeq = row.nextCommandSeq - 1;
          cached.groupName = row.groupName;
          cached.joiningKeyId = row.joiningKeyId;
        }
        if (!toSpread.has(id)) notifier.notify(id);
      }
    }
    if (toSpread.size) spreader.spread([...toSpread]);
  };
  const feed = new ChangeFeed(db, applyRemote);
  feed.start();

  const service: FleetService = {
    defaultSyncIntervalSeconds,
    metrics,
    async getInstance(id) {
      if (instances.peek(id)) return instances.get(id);
      const got = await instances.get(id);
      rowsRead(id);
      return got;
    },
    peekInstance: (id) => instances.peek(id),
    refresh,
    keyInfo: (keyId) => keys.get(keyId),
    peekKeyState: (keyId) => keys.peek(keyId)?.state,
    invalidateKey(keyId) {
      keys.invalidate(keyId);
      if (!keyId) return;
      void feed.publish({ keyId });
      void keys
        .get(keyId)
        .then((info) => {
          if (info?.state !== "revoked") return;
          notifiedRevoked.add(keyId);
          notifyKeyHolders(keyId);
        })
        .catch(() => {});
    },

    recordSeen(inst, ip, now = Date.now()) {
      inst.lastSeenAt = now;
      seen.record({ id: inst.id, lastSeenAt: now, lastSeq: inst.lastSeq, lastBootId: inst.lastBootId ?? "", lastIp: ip });
    },
    lastSeenAt(id, fallback) {
      const mem = instances.peek(id)?.lastSeenAt ?? null;
      return Math.max(mem ?? 0, fallback ?? 0) || null;
    },
    status(row, keyState, now) {
      return deriveStatus({ ...row, lastSeenAt: service.lastSeenAt(row.id, row.lastSeenAt) }, keyState, now);
    },

    push: notifier,
    notify: (id) => notifier.notify(id),
    waitFor: (id, ready, timeoutMs, signal) => notifier.wait(id, ready, timeoutMs, signal),

    async createInstance(id, values, guard) {
      const created = await db.transaction(async (tx) => {
        const t = tx as unknown as HubDb;
        if (guard && !(await guard(t))) return false;
        await insertInstance(t, id, values);
        return true;
      });
      if (!created) return false;
      const row = await getInstance(db, id);
      rowsRead(id);
      if (row) instances.set(toCached(row));
      return true;
    },

    async updateInstance(id, patch, opts = {}) {
      if (!(await updateInstance(db, id, patch))) return null;
      const fresh = await refresh(id);
      if (opts.nudge) notifier.notify(id);
      return fresh;
    },

    async patchCached(inst, patch) {
      Object.assign(inst, patch);
      await updateInstance(db, inst.id, patch);
    },

    async rekey(id, expectedPublicKey, patch) {
      const applied = await applyRekey(db, id, expectedPublicKey, patch);
      if (!applied) {
        await refresh(id);
        return null;
      }
      return refresh(id, { resetSequence: true });
    },

    async advanceCursor(inst, cursor) {
      await advanceCommandCursor(db, inst.id, cursor);
      inst.commandCursor = Math.max(inst.commandCursor, cursor);
    },

    async storeReports(inst, certificates, hash, extras) {
      await replaceCertificates(db, inst.id, certificates, hash, extras);
      inst.certificatesHash = hash;
    },

    async deleteInstance(id) {
      if (!(await getInstance(db, id))) return false;
      await deleteInstance(db, id);
      service.forget(id);
      return true;
    },

    async addCommand(instanceId, type, payload, createdBy) {
      const res = await insertCommand(db, instanceId, type, payload, createdBy);
      if (!res) return null;
      const cached = instances.peek(instanceId);
      if (cached) cached.latestCommandSeq = Math.max(cached.latestCommandSeq, res.seq);
      commandsQueued.inc({ type });
      notifier.notify(instanceId);
      void feed.publish({ ids: [instanceId] });
      return res;
    },

    async settingsChanged(scope, opts = {}) {
      if (opts.scopes?.length) {
        // This process's cache first, then the others' (awaited: the row must be committed
        // before any version is bumped), then the versions.
        scopesChanged(opts.scopes);
        await feed.publish({ scopes: opts.scopes });
      }
      if (typeof scope === "object" && "instanceIds" in scope && scope.instanceIds.length === 0) return 0;
      const ids = await bumpSettingsVersion(db, scope);
      for (const id of ids) {
        const cached = instances.peek(id);
        if (cached) cached.settingsVersion++;
      }
      spreader.spread(ids);
      if (ids.length) void feed.publish(scope === "all" ? { all: true } : "group" in scope ? { group: scope.group } : { ids, ...(ids.length > 1 ? { spread: true } : {}) });
      return ids.length;
    },

    onConfigScopesChanged(listener) {
      scopeListeners.add(listener);
      return () => scopeListeners.delete(listener);
    },

    configCacheSafe(id) {
      const appliedUpTo = feed.appliedUpTo;
      if (!(appliedUpTo > warmedAt)) return false;
      const readAt = rowsReadAt.get(id);
      if (readAt === undefined) return true;
      if (readAt >= appliedUpTo) return false;
      rowsReadAt.delete(id);
      return true;
    },

    forget(id) {
      instances.invalidate(id);
      seen.forget(id);
      notifier.notify(id);
      void feed.publish({ ids: [id] });
    },

    flushSeen: () => seen.flush(),

    async stop() {
      clearInterval(keyWatcher);
      spreader.stop();
      await feed.stop();
      notifier.releaseAll();
      await warming; // its queries must finish before the database closes
      await seen.stop();
    },
  };
  return service;
}

function clampInterval(s: number) {
  return Math.min(Math.max(Math.round(s), 1), 3600);
}
