// Setting values stored at a scope (global / group / instance). Values are JSON (drizzle mode: "json" over a text column); the
// rules (registry keys, allowed scopes, validation, resolution) are in src/hub/core/settings.ts.
import { and, asc, eq } from "drizzle-orm";
import type { HubDb } from "./client";
import { exactScope, forInstance } from "./scopes";
import { settings } from "./schema";

export type SettingRow = typeof settings.$inferSelect;

export function settingsOfInstance(db: HubDb, inst: { id: string; groupName: string | null }) {
  return db.select().from(settings).where(forInstance(settings, inst));
}

export function settingsAtScope(db: HubDb, s: { scope: SettingRow["scope"]; scopeId: string }) {
  return db.select().from(settings).where(exactScope(settings, s)).orderBy(asc(settings.key));
}

export async function putSetting(db: HubDb, s: { scope: SettingRow["scope"]; scopeId: string }, key: string, value: unknown, by: string | null) {
  const now = Date.now();
  const [row] = await db
    .insert(settings)
    .values({ ...s, key, value, updatedAt: now, updatedBy: by })
    .onConflictDoUpdate({ target: [settings.scope, settings.scopeId, settings.key], set: { value, updatedAt: now, updatedBy: by } })
    .returning();
  return row;
}

export async function deleteSetting(db: HubDb, s: { scope: SettingRow["scope"]; scopeId: string }, key: string) {
  const rows = await db
    .delete(settings)
    .where(and(exactScope(settings, s), eq(settings.key, key)))
    .returning({ key: settings.key });
  return rows.length > 0;
}
