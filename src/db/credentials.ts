// Stored credentials: metadata and AES-256-GCM ciphertext only. No function here returns a
// secret; opening one is src/hub/core/instance-config.ts's job (the only place that needs it).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { HubDb } from "./client";
import { exactScope, forInstance } from "./scopes";
import { caAccounts, credentials, managedCertificates } from "./schema";

export type CredentialRow = typeof credentials.$inferSelect;
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
