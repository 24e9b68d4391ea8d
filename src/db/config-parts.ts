// Reads for the hub's config cache (src/hub/core/config-cache.ts): one scope's sealed
// credentials (ciphertext only: the cache never holds an opened secret), and which instances
// have objects of their own (instance-scoped settings, CA accounts or credentials), so the
// config of every other instance needs no query for its instance scope.
import { union } from "drizzle-orm/sqlite-core";
import { eq } from "drizzle-orm";
import type { HubDb } from "./client";
import { exactScope } from "./scopes";
import { caAccounts, credentials, settings } from "./schema";

export type SealedCredentialRow = { id: string; type: string; scope: string; scopeId: string; ciphertext: string };

export function sealedCredentialsAtScope(db: HubDb, s: { scope: string; scopeId: string }): Promise<SealedCredentialRow[]> {
  return db
    .select({ id: credentials.id, type: credentials.type, scope: credentials.scope, scopeId: credentials.scopeId, ciphertext: credentials.ciphertext })
    .from(credentials)
    .where(exactScope(credentials, s));
}

/** Ids of instances that have at least one instance-scoped setting, CA account or credential. */
export async function instancesWithOwnObjects(db: HubDb): Promise<string[]> {
  const rows = await union(
    db.selectDistinct({ id: settings.scopeId }).from(settings).where(eq(settings.scope, "instance")),
    db.selectDistinct({ id: caAccounts.scopeId }).from(caAccounts).where(eq(caAccounts.scope, "instance")),
    db.selectDistinct({ id: credentials.scopeId }).from(credentials).where(eq(credentials.scope, "instance")),
  );
  return rows.map((r) => r.id);
}
