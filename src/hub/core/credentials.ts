// Stored credentials: named secrets (API token, username + password, password, TSIG key, EAB)
// at a scope. Sealed with AES-256-GCM before they reach the database; write-only: nothing here
// returns a secret (only the instance config opens them, for the instances that use them).
// Delete is refused while a certificate or CA account still names the credential.
import { z } from "zod";
import { audit, type Actor } from "../../db/audit";
import { instancesUsingCaAccount } from "../../db/ca-accounts";
import {
  caAccountsUsingCredentials,
  certificatesUsingCredentials,
  deleteCredentialRow,
  getCredentialMeta,
  insertCredential,
  listCredentialsMeta,
  updateCredential,
  type CredentialMeta,
} from "../../db/credentials";
import { newId } from "../../lib/ids";
import { seal } from "../../lib/aead";
import { CREDENTIAL_TYPES, CredentialSecretSchemas, type CredentialType } from "../../protocol/certificates";
import type { CoreDeps } from "./deps";
import { conflict, notFound, parseOr400 } from "./errors";
import { resolveScope, scopeKey, ScopeInputSchema, scopeView, type InstanceScopeFacts, type Scope } from "./scope";

export const CreateCredentialSchema = z
  .object({
    title: z.string().trim().min(1).max(200),
    type: z.enum(CREDENTIAL_TYPES),
    secret: z.record(z.string(), z.unknown()),
  })
  .extend(ScopeInputSchema.shape)
  .strict();
export type CreateCredentialInput = z.infer<typeof CreateCredentialSchema>;

export const UpdateCredentialSchema = z
  .object({
    title: z.string().trim().min(1).max(200).optional(),
    secret: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type UpdateCredentialInput = z.infer<typeof UpdateCredentialSchema>;

/** Associated data: a sealed secret opens only on its own row and scope. */
export function credentialAad(c: { id: string; scope: string; scopeId: string }): string {
  return `credential:${c.id}:${c.scope}:${c.scopeId}`;
}

function checkSecret(type: CredentialType, secret: unknown): Record<string, string> {
  return parseOr400(CredentialSecretSchemas[type].strict(), secret, `secret for a ${type} credential`) as Record<string, string>;
}

/** Seals a secret for a (new or existing) credential row. */
export function sealSecret(key: Uint8Array, row: { id: string; scope: string; scopeId: string }, type: CredentialType, secret: unknown): string {
  return seal(key, JSON.stringify(checkSecret(type, secret)), credentialAad(row));
}

export interface CredentialUsage {
  certificates: { id: string; name: string; instanceId: string }[];
  caAccounts: { id: string; title: string }[];
}

export async function usageOf(core: Pick<CoreDeps, "db">, ids: string[]): Promise<Map<string, CredentialUsage>> {
  const out = new Map<string, CredentialUsage>(ids.map((id) => [id, { certificates: [], caAccounts: [] }]));
  const [certs, accounts] = await Promise.all([certificatesUsingCredentials(core.db, ids), caAccountsUsingCredentials(core.db, ids)]);
  for (const c of certs) for (const id of c.credentialIds) out.get(id)?.certificates.push({ id: c.id, name: c.name, instanceId: c.instanceId });
  for (const a of accounts) if (a.credentialId) out.get(a.credentialId)?.caAccounts.push({ id: a.id, title: a.title });
  return out;
}

/** The JSON shape: never the secret. */
export function credentialView(c: CredentialMeta, usage?: CredentialUsage) {
  return {
    id: c.id,
    title: c.title,
    type: c.type,
    ...scopeView(c),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    createdBy: c.createdBy,
    usedBy: usage ?? { certificates: [], caAccounts: [] },
  };
}

export async function createCredential(core: CoreDeps, actor: Actor, input: CreateCredentialInput) {
  const s = await resolveScope(core.db, input);
  const id = newId("cred_");
  const row = await storeNew(core, actor, { id, title: input.title, type: input.type, ...s }, input.secret);
  return credentialView(row);
}

/** Also used by CA accounts for their EAB credential. */
export async function storeNew(core: CoreDeps, actor: Actor, c: { id: string; title: string; type: CredentialType } & Scope, secret: unknown): Promise<CredentialMeta> {
  const now = Date.now();
  const ciphertext = sealSecret(core.secretKey, c, c.type, secret);
  const row = { ...c, ciphertext, createdAt: now, updatedAt: now, createdBy: actor.label };
  await insertCredential(core.db, row);
  await audit(core.db, actor, "credential.create", { type: "credential", id: c.id }, { title: c.title, type: c.type, ...scopeView(c) });
  // Nothing references a new credential yet, so no instance's config changes; the config cache
  // reads its scope again (instance-config.ts would also find it, as a credential not cached).
  await core.fleet.settingsChanged({ instanceIds: [] }, { scopes: [scopeKey(c)] });
  const { ciphertext: _, ...meta } = row;
  return meta;
}

export async function getCredential(core: Pick<CoreDeps, "db">, id: string) {
  const c = await getCredentialMeta(core.db, id);
  if (!c) throw notFound(`no credential with id ${id}`);
  return credentialView(c, (await usageOf(core, [id])).get(id));
}

export async function listCredentials(core: Pick<CoreDeps, "db">, o: { scope?: Scope; instance?: InstanceScopeFacts; type?: string } = {}) {
  const rows = await listCredentialsMeta(core.db, o);
  const usage = await usageOf(core, rows.map((r) => r.id));
  return rows.map((r) => credentialView(r, usage.get(r.id)));
}

/** Instances whose config carries this credential: their certificates or CA accounts use it. */
async function instancesUsing(core: Pick<CoreDeps, "db">, id: string, usage: CredentialUsage): Promise<string[]> {
  const ids = new Set(usage.certificates.map((c) => c.instanceId));
  if (usage.caAccounts.length) {
    for (const a of usage.caAccounts) for (const i of await instancesUsingCaAccount(core.db, a.id)) ids.add(i);
  }
  return [...ids];
}

export async function updateCredentialRule(core: CoreDeps, actor: Actor, id: string, input: UpdateCredentialInput) {
  const c = await getCredentialMeta(core.db, id);
  if (!c) throw notFound(`no credential with id ${id}`);
  const patch: { title?: string; ciphertext?: string } = {};
  if (input.title !== undefined) patch.title = input.title;
  if (input.secret !== undefined) patch.ciphertext = sealSecret(core.secretKey, c, c.type as CredentialType, input.secret);
  if (Object.keys(patch).length) await updateCredential(core.db, id, patch);
  await audit(core.db, actor, "credential.update", { type: "credential", id }, { title: input.title, secretReplaced: input.secret !== undefined });
  const usage = (await usageOf(core, [id])).get(id)!;
  if (patch.ciphertext) await core.fleet.settingsChanged({ instanceIds: await instancesUsing(core, id, usage) }, { scopes: [scopeKey(c)] });
  return credentialView((await getCredentialMeta(core.db, id))!, usage);
}

export async function deleteCredential(core: CoreDeps, actor: Actor, id: string) {
  const c = await getCredentialMeta(core.db, id);
  if (!c) throw notFound(`no credential with id ${id}`);
  const usage = (await usageOf(core, [id])).get(id)!;
  const users = [
    ...usage.certificates.map((x) => `certificate "${x.name}" (${x.id}) on instance ${x.instanceId}`),
    ...usage.caAccounts.map((x) => `CA account "${x.title}" (${x.id})`),
  ];
  if (users.length) {
    throw conflict(`credential "${c.title}" is still used by ${users.slice(0, 5).join(", ")}${users.length > 5 ? ` and ${users.length - 5} more` : ""}: change or delete them first`);
  }
  await deleteCredentialRow(core.db, id);
  await core.fleet.settingsChanged({ instanceIds: [] }, { scopes: [scopeKey(c)] });
  await audit(core.db, actor, "credential.delete", { type: "credential", id }, { title: c.title, type: c.type });
}
