// The InstanceConfig last received from the hub (one row). Stored as validated JSON; read back
// through the same schema so a hand-edited or older row cannot smuggle in other shapes.
import { eq } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import { InstanceConfigSchema, type InstanceConfig } from "../../protocol/certificates";
import type * as schema from "./schema";
import { instanceConfig } from "./schema";

type Db = LibSQLDatabase<typeof schema>;

export async function saveInstanceConfig(db: Db, config: InstanceConfig) {
  const row = { id: 1, version: config.version, config: JSON.stringify(config), receivedAt: Date.now() };
  await db.insert(instanceConfig).values(row).onConflictDoUpdate({ target: instanceConfig.id, set: row });
}

export async function loadInstanceConfig(db: Db): Promise<InstanceConfig | null> {
  const [row] = await db.select().from(instanceConfig).where(eq(instanceConfig.id, 1));
  if (!row) return null;
  try {
    const parsed = InstanceConfigSchema.safeParse(JSON.parse(row.config));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export async function clearInstanceConfig(db: Db) {
  await db.delete(instanceConfig);
}
