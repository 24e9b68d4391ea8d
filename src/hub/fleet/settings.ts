// Effective settings for one instance: global, then group (the joining key's group), then
// instance scope — the later scope wins per key. Read only when the agent's settings version
// differs from the instance's, i.e. after someone bumped it (bumpSettingsVersion).
import { and, eq, or, sql } from "drizzle-orm";
import type { HubDb } from "../../db/client";
import { instances, settings } from "../../db/schema";

export async function resolveSettings(db: HubDb, instanceId: string, groupName: string | null) {
  const rows = await db
    .select()
    .from(settings)
    .where(
      or(
        eq(settings.scope, "global"),
        groupName ? and(eq(settings.scope, "group"), eq(settings.scopeId, groupName)) : sql`0`,
        and(eq(settings.scope, "instance"), eq(settings.scopeId, instanceId)),
      ),
    );
  const rank = { global: 0, group: 1, instance: 2 } as const;
  rows.sort((a, b) => rank[a.scope] - rank[b.scope]);
  const values: Record<string, unknown> = {};
  for (const r of rows) {
    try {
      values[r.key] = JSON.parse(r.value);
    } catch {
      values[r.key] = r.value;
    }
  }
  return values;
}

/**
 * Marks settings as changed for the instances in scope, so their next sync (nudged at once)
 * fetches them. Returns the ids of the affected instances.
 */
export async function bumpSettingsVersion(
  db: HubDb,
  scope: { instanceId: string } | { group: string } | "all",
): Promise<string[]> {
  const where =
    scope === "all" ? undefined : "instanceId" in scope ? eq(instances.id, scope.instanceId) : eq(instances.groupName, scope.group);
  const rows = await db
    .update(instances)
    .set({ settingsVersion: sql`${instances.settingsVersion} + 1` })
    .where(where)
    .returning({ id: instances.id });
  return rows.map((r) => r.id);
}
