// Assembles the InstanceConfig one instance receives in /sync when its config version differs:
// effective settings, the CA accounts of its scopes, its managed certificate definitions, and
// the stored credentials those certificates and their CA accounts name, opened here and only
// here. Another instance's config never carries them.
// What instances share (settings, CA accounts and sealed credentials of each scope) comes from
// the per-scope cache (config-cache.ts); per instance, only its certificate definitions are read
// and the credentials they name are opened. The definition reads of config syncs that arrive
// together are one query (DefinitionReader below).
import { sealedCredentials } from "../../db/credentials";
import type { SealedCredentialRow } from "../../db/config-parts";
import type { HubDb } from "../../db/client";
import { managedCertificatesOf, managedCertificatesOfInstances, type ManagedCertificateRow } from "../../db/managed-certificates";
import { open } from "../../lib/aead";
import type { CaAccountSpec, CredentialForAgent, InstanceConfig } from "../../protocol/certificates";
import type { CredentialType } from "../../protocol/certificates";
import { SETTING_KEYS, SETTINGS } from "../../protocol/settings";
import { configCacheOf, type ScopePart } from "./config-cache";
import { credentialAad } from "./credentials";
import type { CoreDeps } from "./deps";
import { toSpec } from "./managed-certificates";
import type { InstanceScopeFacts } from "./scope";

/** Registry defaults, then each scope's values, narrowest last: the narrowest wins. */
function mergeSettings(parts: ScopePart[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) out[key] = SETTINGS[key].default;
  for (const p of parts) Object.assign(out, p.settings);
  return out;
}

const byTitleThenId = (a: { title: string; id: string }, b: { title: string; id: string }) =>
  a.title < b.title ? -1 : a.title > b.title ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** Instances per definition query at most (one bound parameter each). */
export const MAX_DEFINITION_BATCH = 500;

type Waiter = { resolve: (rows: ManagedCertificateRow[]) => void; reject: (err: unknown) => void };

/**
 * Reads instances' certificate definitions for their configs, one query for the config syncs
 * that ask in the same turn of the event loop. A query costs ~0.3 ms however few rows it
 * returns (the local libSQL client prepares each statement anew), so when the fleet syncs in a
 * wave, most of that is shared. A read waits only for the rest of the current turn (the
 * requests already being handled), then its query starts: nothing asked after a query was
 * taken is answered by it, so a definition changed before a config sync asked is always in
 * that sync's answer. Alone, a read is the one-instance query it always was.
 */
export class DefinitionReader {
  private waiting = new Map<string, Waiter[]>();
  private scheduled = false;
  /** Queries and the instances they read, for tests and the bench. */
  readonly stats = { queries: 0, instances: 0, largestBatch: 0 };

  constructor(private db: HubDb) {}

  read(instanceId: string): Promise<ManagedCertificateRow[]> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(instanceId);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(instanceId, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush() {
    this.scheduled = false;
    const batch = [...this.waiting];
    this.waiting = new Map();
    for (let i = 0; i < batch.length; i += MAX_DEFINITION_BATCH) void this.run(batch.slice(i, i + MAX_DEFINITION_BATCH));
  }

  private async run(batch: [string, Waiter[]][]) {
    this.stats.queries++;
    this.stats.instances += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let rows: ManagedCertificateRow[];
    try {
      rows = batch.length === 1 ? await managedCertificatesOf(this.db, batch[0][0]) : await managedCertificatesOfInstances(this.db, batch.map(([id]) => id));
    } catch (err) {
      for (const [, waiters] of batch) for (const w of waiters) w.reject(err);
      return;
    }
    const byInstance = new Map<string, ManagedCertificateRow[]>();
    for (const row of rows) {
      const list = byInstance.get(row.instanceId);
      if (list) list.push(row);
      else byInstance.set(row.instanceId, [row]);
    }
    for (const [id, waiters] of batch) for (const w of waiters) w.resolve([...(byInstance.get(id) ?? [])]);
  }
}

const readers = new WeakMap<HubDb, DefinitionReader>();

/** The definition reader of this database handle (one per hub process). */
export function definitionReaderOf(db: HubDb): DefinitionReader {
  let reader = readers.get(db);
  if (!reader) readers.set(db, (reader = new DefinitionReader(db)));
  return reader;
}

export async function instanceConfig(core: Pick<CoreDeps, "db" | "secretKey" | "fleet">, inst: InstanceScopeFacts & { settingsVersion: number }): Promise<InstanceConfig> {
  // Taken before anything is read: the config is at least as new as the version it carries.
  const version = inst.settingsVersion;
  const [parts, certs] = await Promise.all([configCacheOf(core).partsOf(inst), definitionReaderOf(core.db).read(inst.id)]);
  const settings = mergeSettings(parts);
  const accounts = parts.flatMap((p) => p.caAccounts).sort(byTitleThenId);
  const usedAccounts = new Set(certs.map((c) => c.caAccountId));
  const eabIds = accounts.filter((a) => usedAccounts.has(a.id) && a.eabCredentialId).map((a) => a.eabCredentialId!);
  const certCredentialIds = new Set(certs.flatMap((c) => c.credentialIds));
  const wanted = [...new Set([...certCredentialIds, ...eabIds])];
  const sealed: SealedCredentialRow[] = [];
  const missing: string[] = [];
  for (const id of wanted) {
    const row = parts.find((p) => p.sealed.has(id))?.sealed.get(id);
    if (row) sealed.push(row);
    else missing.push(id);
  }
  // Named but outside the instance's scopes (not made through the rules) or just created:
  // read as before, never silently left out.
  if (missing.length) sealed.push(...(await sealedCredentials(core.db, missing)));
  const opened = new Map<string, { type: CredentialType; secret: Record<string, string> }>();
  for (const row of sealed) {
    try {
      opened.set(row.id, { type: row.type as CredentialType, secret: JSON.parse(open(core.secretKey, row.ciphertext, credentialAad(row))) });
    } catch (err) {
      // Wrong key (secret.key replaced?) or a damaged row: the certificate reports the missing
      // credential; the hub log names the row, never its content.
      console.error(`certhub: stored credential ${row.id} cannot be opened (${(err as Error).message}); enter its secret again`);
    }
  }
  const defaultEmail = typeof settings.defaultContactEmail === "string" ? settings.defaultContactEmail : "";
  const caAccounts: CaAccountSpec[] = accounts.map((a) => {
    const eab = a.eabCredentialId && usedAccounts.has(a.id) ? opened.get(a.eabCredentialId) : undefined;
    return {
      id: a.id,
      title: a.title,
      directoryUrl: a.directoryUrl,
      // The "default contact email" setting stands in for an account that names none.
      ...(a.email || defaultEmail ? { email: a.email || defaultEmail } : {}),
      ...(a.trustedRootsPem ? { trustedRootsPem: a.trustedRootsPem } : {}),
      ...(eab ? { eab: { keyId: eab.secret.keyId, hmacKey: eab.secret.hmacKey } } : {}),
    };
  });
  const credentials: CredentialForAgent[] = [...certCredentialIds].flatMap((id) => {
    const c = opened.get(id);
    return c ? [{ id, type: c.type, secret: c.secret }] : [];
  });
  return { version, settings, caAccounts, credentials, certificates: certs.map(toSpec) };
}
