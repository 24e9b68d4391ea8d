// Stored credentials: metadata and AES-256-GCM ciphertext only. No function here returns a
// secret; opening one is src/hub/core/instance-config.ts's job (the only place that needs it).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { HubDb } from "./client";
import { exactScope, forInstance } from "./scopes";
import { caAccounts, credentials, instances, managedCertificates } from "./schema";

export type CredentialRow = typeof credentials.$inferSelect;
/** A database or an open transaction on it (a scope move reads and writes in one). */
export type HubTx = HubDb | Parameters<Parameters<HubDb["transaction"]>[0]>[0];
export type CredentialMeta = Omit<CredentialRow, "ciphertext">;

const meta = {
  id: credentials.id,
  title: credentials.title,
  type: credentials.type,
  scope: credentials.scope,
  scopeId: credentials.scopeId,
  createdAt: credentials.createdAt,
  updatedAt: credentials.updatedAt,
  createdBy: credentials.createdBy,
};

export async function insertCredential(db: HubDb, row: CredentialRow) {
  await db.insert(credentials).values(row);
}

export async function updateCredential(db: HubDb, id: string, patch: Partial<Pick<CredentialRow, "title" | "ciphertext">>) {
  const rows = await db.update(credentials).set({ ...patch, updatedAt: Date.now() }).where(eq(credentials.id, id)).returning({ id: credentials.id });
  return rows.length > 0;
}

export async function deleteCredentialRow(db: HubDb, id: string) {
  const rows = await db.delete(credentials).where(eq(credentials.id, id)).returning({ id: credentials.id });
  return rows.length > 0;
}

export async function getCredentialMeta(db: HubDb, id: string): Promise<CredentialMeta | undefined> {
  const [row] = await db.select(meta).from(credentials).where(eq(credentials.id, id));
  return row;
}

export async function getCredentialsMeta(db: HubDb, ids: string[]): Promise<CredentialMeta[]> {
  if (!ids.length) return [];
  return db.select(meta).from(credentials).where(inArray(credentials.id, ids));
}

export interface ListCredentialsOptions {
  scope?: { scope: CredentialRow["scope"]; scopeId: string };
  instance?: { id: string; groupName: string | null };
  type?: string;
}

export function listCredentialsMeta(db: HubDb, o: ListCredentialsOptions = {}): Promise<CredentialMeta[]> {
  const conds = [];
  if (o.scope) conds.push(exactScope(credentials, o.scope));
  if (o.instance) conds.push(forInstance(credentials, o.instance));
  if (o.type) conds.push(eq(credentials.type, o.type));
  return db.select(meta).from(credentials).where(conds.length ? and(...conds) : undefined).orderBy(asc(credentials.title), asc(credentials.id));
}

/** Sealed rows for the instance config (ciphertext included: callers open them). */
export async function sealedCredentials(db: HubDb, ids: string[]): Promise<CredentialRow[]> {
  if (!ids.length) return [];
  return db.select().from(credentials).where(inArray(credentials.id, ids));
}

/** Managed certificates naming any of these credentials in their challenge or deployments. */
export async function certificatesUsingCredentials(db: HubDb, ids: string[]) {
  if (!ids.length) return [];
  const list = sql.join(ids.map((id) => sql`${id}`), sql`, `);
  return db
    .select({ id: managedCertificates.id, name: managedCertificates.name, instanceId: managedCertificates.instanceId, credentialIds: managedCertificates.credentialIds })
    .from(managedCertificates)
    .where(sql`exists (select 1 from json_each(${managedCertificates.credentialIds}) where value in (${list}))`)
    .orderBy(asc(managedCertificates.name));
}

/** CA accounts whose External Account Binding is one of these credentials. */
export async function caAccountsUsingCredentials(db: HubDb, ids: string[]) {
  if (!ids.length) return [];
  return db
    .select({ credentialId: caAccounts.eabCredentialId, id: caAccounts.id, title: caAccounts.title })
    .from(caAccounts)
    .where(inArray(caAccounts.eabCredentialId, ids));
}

/** Where a credential is, sealed: the one row a scope move re-seals (ciphertext included). */
export async function sealedCredentialRow(tx: HubTx, id: string): Promise<CredentialRow | undefined> {
  const [row] = await tx.select().from(credentials).where(eq(credentials.id, id));
  return row;
}

/**
 * Everything that names this credential, with where it applies: certificates (and the
 * hostname and group of their instance) and CA accounts using it as EAB (with their scope and,
 * for an instance-scoped account, that instance's group). For the scope-move check.
 */
export async function credentialReferences(tx: HubTx, id: string) {
  const certificates = await tx
    .select({ id: managedCertificates.id, name: managedCertificates.name, instanceId: managedCertificates.instanceId, hostname: instances.hostname, groupName: instances.groupName })
    .from(managedCertificates)
    .innerJoin(instances, eq(instances.id, managedCertificates.instanceId))
    .where(sql`exists (select 1 from json_each(${managedCertificates.credentialIds}) where value = ${id})`)
    .orderBy(asc(managedCertificates.name), asc(managedCertificates.id));
  const accounts = await tx
    .select({ id: caAccounts.id, title: caAccounts.title, scope: caAccounts.scope, scopeId: caAccounts.scopeId, instanceGroup: instances.groupName, instanceHostname: instances.hostname })
    .from(caAccounts)
    .leftJoin(instances, and(eq(caAccounts.scope, "instance"), eq(instances.id, caAccounts.scopeId)))
    .where(eq(caAccounts.eabCredentialId, id))
    .orderBy(asc(caAccounts.title), asc(caAccounts.id));
  return { certificates, caAccounts: accounts };
}

/**
 * Moves a credential to another scope with its re-sealed secret, only if the row is still
 * where and what the caller read (scope and ciphertext): a concurrent move or secret
 * replacement makes this return false instead of being overwritten.
 */
export async function moveCredentialRow(
  tx: HubTx,
  id: string,
  from: Pick<CredentialRow, "scope" | "scopeId" | "ciphertext">,
  to: Pick<CredentialRow, "scope" | "scopeId" | "ciphertext"> & { title?: string; type?: string },
): Promise<boolean> {
  const rows = await tx
    .update(credentials)
    .set({ ...to, updatedAt: Date.now() })
    .where(and(eq(credentials.id, id), eq(credentials.scope, from.scope), eq(credentials.scopeId, from.scopeId), eq(credentials.ciphertext, from.ciphertext)))
    .returning({ id: credentials.id });
  return rows.length > 0;
}
