// Config versions: bumping an instance's settings version makes its next sync (nudged at once)
// fetch its whole configuration again (src/hub/core/instance-config.ts assembles it).
import { eq, inArray, sql, type SQL } from "drizzle-orm";
import type { HubDb } from "../../db/client";
import { instances } from "../../db/schema";

export type SettingsTarget = { instanceId: string } | { instanceIds: string[] } | { group: string } | "all";

/**
 * Marks settings as changed for the instances in scope, so their next sync (nudged at once)
 * fetches them. Returns the ids of the affected instances.
 */
export async function bumpSettingsVersion(db: HubDb, scope: SettingsTarget): Promise<string[]> {
  if (typeof scope === "object" && "instanceIds" in scope) {
    const out: string[] = [];
    // Chunked: SQLite limits bound parameters per statement.
    for (let i = 0; i < scope.instanceIds.length; i += 500) out.push(...(await bump(db, inArray(instances.id, scope.instanceIds.slice(i, i + 500)))));
    return out;
  }
  return bump(db, scope === "all" ? undefined : "instanceId" in scope ? eq(instances.id, scope.instanceId) : eq(instances.groupName, scope.group));
}

async function bump(db: HubDb, where: SQL | undefined): Promise<string[]> {
  const rows = await db
    .update(instances)
    .set({ settingsVersion: sql`${instances.settingsVersion} + 1` })
    .where(where)
    .returning({ id: instances.id });
  return rows.map((r) => r.id);
}
