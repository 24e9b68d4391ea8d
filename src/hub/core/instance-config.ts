// Assembles the InstanceConfig one instance receives in /sync when its config version differs:
// effective settings, the CA accounts of its scopes, its managed certificate definitions, and
// the stored credentials those certificates and their CA accounts name, opened here and only
// here. Another instance's config never carries them.
import { listCaAccounts } from "../../db/ca-accounts";
import { sealedCredentials } from "../../db/credentials";
import { managedCertificatesOf } from "../../db/managed-certificates";
import { open } from "../../lib/aead";
import type { CaAccountSpec, CredentialForAgent, InstanceConfig } from "../../protocol/certificates";
import type { CredentialType } from "../../protocol/certificates";
import { credentialAad } from "./credentials";
import type { CoreDeps } from "./deps";
import { toSpec } from "./managed-certificates";
import type { InstanceScopeFacts } from "./scope";
import { effectiveValues } from "./settings";

export async function instanceConfig(core: Pick<CoreDeps, "db" | "secretKey">, inst: InstanceScopeFacts & { settingsVersion: number }): Promise<InstanceConfig> {
  const [settings, accounts, certs] = await Promise.all([
    effectiveValues(core, inst),
    listCaAccounts(core.db, { instance: inst }),
    managedCertificatesOf(core.db, inst.id),
  ]);
  const usedAccounts = new Set(certs.map((c) => c.caAccountId));
  const eabIds = accounts.filter((a) => usedAccounts.has(a.id) && a.eabCredentialId).map((a) => a.eabCredentialId!);
  const certCredentialIds = new Set(certs.flatMap((c) => c.credentialIds));
  const opened = new Map<string, { type: CredentialType; secret: Record<string, string> }>();
  for (const row of await sealedCredentials(core.db, [...new Set([...certCredentialIds, ...eabIds])])) {
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
  return { version: inst.settingsVersion, settings, caAccounts, credentials, certificates: certs.map(toSpec) };
}
