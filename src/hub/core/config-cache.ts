// The parts of an InstanceConfig that instances share, cached per scope (global, each group,
// each instance with objects of its own): the settings set at that scope (registry-checked),
// its CA accounts and its stored credentials — sealed: the cache holds ciphertext only, and
// instance-config.ts opens a credential for each config that needs it (AES-GCM is cheap), so no
// opened secret outlives the request that sends it.
//
// Invalidation is exact: every write of a setting, CA account or credential names its scope in
// fleet.settingsChanged(…, {scopes}), which bumps this process's version of the scope and, through
// the change feed, every other hub process's — before any instance's config version moves. A
// part is used only while its version is unchanged and the fleet says the cache is safe for the
// instance (its row was not read from the database after the change feed was last applied:
// such a row may carry a version bumped by another process whose scope change this process has
// not heard of yet); otherwise the parts are read again.
import type { CaAccountRow } from "../../db/ca-accounts";
import { listCaAccounts } from "../../db/ca-accounts";
import { instancesWithOwnObjects, sealedCredentialsAtScope, type SealedCredentialRow } from "../../db/config-parts";
import { settingsAtScope } from "../../db/settings";
import { isSettingKey, SETTINGS } from "../../protocol/settings";
import type { CoreDeps } from "./deps";
import { scopeKey, scopesOf, type InstanceScopeFacts, type Scope } from "./scope";

export interface ScopePart {
  /** Values set at this scope that pass the registry, parsed. */
  settings: Record<string, unknown>;
  caAccounts: CaAccountRow[];
  /** This scope's credentials, sealed. */
  sealed: Map<string, SealedCredentialRow>;
}

const EMPTY: ScopePart = { settings: {}, caAccounts: [], sealed: new Map() };

/**
 * Parts kept at most: the global one, one per group, one per instance with objects of its own.
 * Least recently used go first; a dropped part is read again when needed.
 */
export const MAX_PARTS = 20_000;

async function loadPart(core: Pick<CoreDeps, "db">, s: Scope): Promise<ScopePart> {
  const [rows, caAccounts, sealed] = await Promise.all([settingsAtScope(core.db, s), listCaAccounts(core.db, { scope: s }), sealedCredentialsAtScope(core.db, s)]);
  const settings: Record<string, unknown> = {};
  for (const r of rows) {
    // A value that no longer passes the registry (key's schema tightened) is skipped, not sent.
    if (!isSettingKey(r.key)) continue;
    const parsed = SETTINGS[r.key].schema.safeParse(r.value);
    if (parsed.success) settings[r.key] = parsed.data;
  }
  return { settings, caAccounts, sealed: new Map(sealed.map((c) => [c.id, c])) };
}

export class ConfigCache {
  private versions = new Map<string, number>();
  private parts = new Map<string, { version: number; part: Promise<ScopePart> }>();
  /** Instances with instance-scoped objects (filled once from the database, then by changes). */
  private ownObjects = new Set<string>();
  private ownObjectsLoaded: Promise<boolean> | undefined;
  /** Loads and hits, for tests and the bench. */
  readonly stats = { loads: 0, hits: 0 };

  constructor(
    private core: Pick<CoreDeps, "db" | "fleet">,
    private maxParts = MAX_PARTS,
  ) {
    core.fleet.onConfigScopesChanged((keys) => this.invalidate(keys));
  }

  /** A scope changed (here or in another hub process): its part is read again on next use. */
  invalidate(keys: string[]) {
    for (const key of keys) {
      this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
      this.parts.delete(key);
      if (key.startsWith("instance:")) this.ownObjects.add(key.slice("instance:".length));
    }
  }

  /** The parts of the instance's scopes, widest first (global, group, instance). */
  async partsOf(inst: InstanceScopeFacts): Promise<ScopePart[]> {
    const safe = this.core.fleet.configCacheSafe(inst.id);
    return Promise.all(
      scopesOf(inst).map(async (s) => {
        if (s.scope === "instance" && safe && !(await this.mayHaveOwnObjects(s.scopeId))) return EMPTY;
        return this.part(s, safe);
      }),
    );
  }

  private part(s: Scope, useCached: boolean): Promise<ScopePart> {
    const key = scopeKey(s);
    const version = this.versions.get(key) ?? 0;
    const have = this.parts.get(key);
    if (useCached && have && have.version === version) {
      this.stats.hits++;
      // Most recently used last (Map keeps insertion order).
      this.parts.delete(key);
      this.parts.set(key, have);
      return have.part;
    }
    this.stats.loads++;
    // Read after the version was taken: the part is at least as new as its label.
    const part = loadPart(this.core, s);
    this.parts.delete(key);
    this.parts.set(key, { version, part });
    part.catch(() => {
      if (this.parts.get(key)?.part === part) this.parts.delete(key);
    });
    while (this.parts.size > this.maxParts) this.parts.delete(this.parts.keys().next().value!);
    return part;
  }

  private async mayHaveOwnObjects(instanceId: string): Promise<boolean> {
    if (this.ownObjects.has(instanceId)) return true;
    this.ownObjectsLoaded ??= instancesWithOwnObjects(this.core.db).then(
      (ids) => {
        for (const id of ids) this.ownObjects.add(id);
        return true;
      },
      () => {
        this.ownObjectsLoaded = undefined; // try again next time; meanwhile read the part
        return false;
      },
    );
    if (!(await this.ownObjectsLoaded)) return true;
    return this.ownObjects.has(instanceId);
  }
}

const caches = new WeakMap<object, ConfigCache>();

/** The cache of this hub process (one per fleet service). */
export function configCacheOf(core: Pick<CoreDeps, "db" | "fleet">): ConfigCache {
  let cache = caches.get(core.fleet);
  if (!cache) caches.set(core.fleet, (cache = new ConfigCache(core)));
  return cache;
}
