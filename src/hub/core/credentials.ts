// Stored credentials: named secrets (API token, username + password, password, TSIG key, EAB)
// at a scope. Sealed with AES-256-GCM before they reach the database; write-only: nothing here
// returns a secret (only the instance config opens them, for the instances that use them).
// Delete is refused while a certificate or CA account still names the credential. A credential
// can move to another scope (PATCH scope/scopeId): refused while something that names it would
// no longer be in its scope, and for a CA account's EAB credential, which stays at its account's
// scope (it moves with the account); the secret is re-sealed for the new scope in the same statement.
import { z } from "zod";
import { audit, type Actor } from "../../db/audit";
import { instancesUsingCaAccount } from "../../db/ca-accounts";
import {
  caAccountsUsingCredentials,
  certificatesUsingCredentials,
  credentialReferences,
  deleteCredentialRow,
  getCredentialMeta,
  insertCredential,
  listCredentialsMeta,
  moveCredentialRow,
  sealedCredentialRow,
  updateCredential,
  type CredentialMeta,
} from "../../db/credentials";
import { newId } from "../../lib/ids";
import { AeadError, open, seal } from "../../lib/aead";
import { CREDENTIAL_TYPES, CredentialSecretSchemas, type CredentialType } from "../../protocol/certificates";
import type { CoreDeps } from "./deps";
import { badRequest, conflict, notFound, parseOr400 } from "./errors";
import { appliesTo, describeScope, resolveScope, scopeKey, ScopeInputSchema, scopeView, type InstanceScopeFacts, type Scope } from "./scope";

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

/** PATCH: the fields of an update, plus a move to another scope ("scope", "scopeId"). */
export const PatchCredentialSchema = UpdateCredentialSchema.extend(ScopeInputSchema.partial().shape).strict();
export type PatchCredentialInput = z.infer<typeof PatchCredentialSchema>;
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

export async function updateCredentialRule(core: CoreDeps, actor: Actor, id: string, input: PatchCredentialInput) {
  const c = await getCredentialMeta(core.db, id);
  if (!c) throw notFound(`no credential with id ${id}`);
  const target = await requestedScope(core, input);
  if (target && scopeKey(target) !== scopeKey(c)) return moveCredential(core, actor, c, target, input);
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

/** The scope a PATCH asks for, checked (undefined: no move asked). */
export async function requestedScope(core: Pick<CoreDeps, "db">, input: { scope?: Scope["scope"]; scopeId?: string }): Promise<Scope | undefined> {
  if (input.scope === undefined) {
    if (input.scopeId !== undefined) throw badRequest('scopeId needs "scope" ("global", "group" or "instance")', "scope");
    return undefined;
  }
  return resolveScope(core.db, { scope: input.scope, scopeId: input.scopeId });
}

/** Where a thing that uses a scoped object applies: for a check that a move keeps it usable. */
export type Reference =
  | { kind: "certificate"; id: string; name: string; instance: InstanceScopeFacts & { hostname: string } }
  | { kind: "ca-account"; id: string; title: string; scope: Scope; instanceGroup: string | null; instanceHostname: string | null };

const instanceLabel = (i: { id: string; hostname: string | null }) => (i.hostname ? `instance ${i.hostname} (${i.id})` : `instance ${i.id}`);

/** Whether everything an object at scope `inner` reaches is also reached by scope `outer`. */
function covers(outer: Scope, r: Extract<Reference, { kind: "ca-account" }>): boolean {
  if (outer.scope === "global") return true;
  if (outer.scope === "group") return (r.scope.scope === "group" && r.scope.scopeId === outer.scopeId) || (r.scope.scope === "instance" && r.instanceGroup === outer.scopeId);
  return r.scope.scope === "instance" && r.scope.scopeId === outer.scopeId;
}

/**
 * Refuses (409, field "scope") a move of `what` to `target` when something that uses it would
 * no longer be in its scope: a certificate whose instance is outside it, or a CA account (using
 * the credential as its EAB) some of whose instances would be. Names them and their instances.
 */
export function refuseStranding(what: string, target: Scope, refs: Reference[]): void {
  const lost: string[] = [];
  for (const r of refs) {
    if (r.kind === "certificate" && !appliesTo(target, r.instance)) lost.push(`certificate "${r.name}" (${r.id}) on ${instanceLabel(r.instance)}`);
    if (r.kind === "ca-account" && !covers(target, r)) {
      const where = r.scope.scope === "instance" ? instanceLabel({ id: r.scope.scopeId, hostname: r.instanceHostname }) : describeScope(r.scope);
      lost.push(`CA account "${r.title}" (${r.id}) for ${where}`);
    }
  }
  if (!lost.length) return;
  const shown = lost.slice(0, 5).join(", ") + (lost.length > 5 ? ` and ${lost.length - 5} more` : "");
  throw conflict(`cannot move ${what} to ${describeScope(target)}: ${shown} would lose access to it; move or change ${lost.length > 1 ? "them" : "it"} first`, "scope");
}

/**
 * Refuses (409, field "scope") moving a CA account's EAB credential anywhere but that account's
 * own scope. refuseStranding already refuses a narrower scope (instances of the account would
 * lose it); a wider one would work but keeps a CA's account binding secret where nothing needs
 * it, listed and offered for every instance of the wider scope. The credential belongs to its
 * account (made, moved and deleted with it), so it is moved by moving the account.
 */
export function refuseDetachingEab(what: string, target: Scope, refs: Reference[]): void {
  const accounts = refs.filter((r): r is Extract<Reference, { kind: "ca-account" }> => r.kind === "ca-account" && scopeKey(r.scope) !== scopeKey(target));
  if (!accounts.length) return;
  const named = accounts
    .slice(0, 5)
    .map((r) => `CA account "${r.title}" (${r.id}) for ${r.scope.scope === "instance" ? instanceLabel({ id: r.scope.scopeId, hostname: r.instanceHostname }) : describeScope(r.scope)}`)
    .join(", ");
  const more = accounts.length > 5 ? ` and ${accounts.length - 5} more` : "";
  throw conflict(
    `cannot move ${what} to ${describeScope(target)}: it is the External Account Binding of ${named}${more} and stays at that account's scope ` +
      `(wider would spread the secret where nothing uses it); move the CA account instead: its External Account Binding moves with it`,
    "scope",
  );
}

/** A credential's references in the terms refuseStranding checks. */
export function referencesOf(refs: Awaited<ReturnType<typeof credentialReferences>>): Reference[] {
  return [
    ...refs.certificates.map((c) => ({ kind: "certificate" as const, id: c.id, name: c.name, instance: { id: c.instanceId, hostname: c.hostname, groupName: c.groupName } })),
    ...refs.caAccounts.map((a) => ({ kind: "ca-account" as const, id: a.id, title: a.title, scope: { scope: a.scope, scopeId: a.scopeId }, instanceGroup: a.instanceGroup, instanceHostname: a.instanceHostname })),
  ];
}

/**
 * A sealed secret re-sealed for another row scope: opened with the old associated data and
 * sealed with the new, in memory only (or a replacement secret sealed straight away).
 */
export function resealFor(key: Uint8Array, row: { id: string; type: string; scope: Scope["scope"]; scopeId: string; ciphertext: string }, to: Scope, replacement?: unknown): string {
  const next = { id: row.id, ...to };
  if (replacement !== undefined) return sealSecret(key, next, row.type as CredentialType, replacement);
  let plaintext: string;
  try {
    plaintext = open(key, row.ciphertext, credentialAad(row));
  } catch (err) {
    if (!(err instanceof AeadError)) throw err;
    throw conflict(`the secret of credential ${row.id} cannot be opened with this hub's key (secret.key replaced?): enter the secret again before moving it`, "scope");
  }
  return seal(key, plaintext, credentialAad(next));
}

/** Moves a credential (and applies a title or secret given with the move) to `target`. */
async function moveCredential(core: CoreDeps, actor: Actor, c: CredentialMeta, target: Scope, input: PatchCredentialInput) {
  const from: Scope = { scope: c.scope, scopeId: c.scopeId };
  const what = `credential "${c.title}"`;
  // Check and write in one transaction: a certificate made meanwhile cannot slip past the
  // check, and the row is re-sealed only if it is still what was read.
  await core.db.transaction(async (tx) => {
    const row = await sealedCredentialRow(tx, c.id);
    if (!row) throw notFound(`no credential with id ${c.id}`);
    if (scopeKey(row) !== scopeKey(from)) throw conflict(`credential "${c.title}" was just moved by someone else: reload and try again`, "scope");
    const refs = referencesOf(await credentialReferences(tx, c.id));
    refuseStranding(what, target, refs);
    refuseDetachingEab(what, target, refs);
    const ciphertext = resealFor(core.secretKey, row, target, input.secret);
    const moved = await moveCredentialRow(tx, c.id, row, { ...target, ciphertext, ...(input.title !== undefined ? { title: input.title } : {}) });
    if (!moved) throw conflict(`credential "${c.title}" changed while it was being moved: try again`, "scope");
  });
  await audit(core.db, actor, "credential.move", { type: "credential", id: c.id }, {
    title: input.title ?? c.title,
    from: scopeView(from),
    to: scopeView(target),
    ...(input.title !== undefined ? { titleChanged: true } : {}),
    secretReplaced: input.secret !== undefined,
  });
  const usage = (await usageOf(core, [c.id])).get(c.id)!;
  // What an instance receives does not depend on where the credential is defined, so only the
  // instances that use it get a new config version; both scopes' cached parts are dropped
  // (here and, through the change feed, in other hub processes) before that.
  await core.fleet.settingsChanged({ instanceIds: await instancesUsing(core, c.id, usage) }, { scopes: [scopeKey(from), scopeKey(target)] });
  return credentialView((await getCredentialMeta(core.db, c.id))!, usage);
}
