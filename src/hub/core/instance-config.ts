// Assembles the InstanceConfig one instance receives in /sync when its config version differs:
// effective settings, the CA accounts of its scopes, its managed certificate definitions, and
// the stored credentials those certificates and their CA accounts name, opened here and only
// here. Another instance's config never carries them.
// What instances share (settings, CA accounts and sealed credentials of each scope) comes from
// the per-scope cache (config-cache.ts); per instance, only its certificate definitions are read
// and the credentials they name are opened.
import { sealedCredentials } from "../../db/credentials";
import type { SealedCredentialRow } from "../../db/config-parts";
import { managedCertificatesOf } from "../../db/managed-certificates";
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

export async function instanceConfig(core: Pick<CoreDeps, "db" | "secretKey" | "fleet">, inst: InstanceScopeFacts & { settingsVersion: number }): Promise<InstanceConfig> {
  // Taken before anything is read: the config is at least as new as the version it carries.
  const version = inst.settingsVersion;
  const [parts, certs] = await Promise.all([configCacheOf(core).partsOf(inst), managedCertificatesOf(core.db, inst.id)]);
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
