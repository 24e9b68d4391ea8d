// A tiny migrator for drizzle-kit's SQL output. The SQL is embedded in the binary
// (see migrations.ts), so no migrations folder has to exist next to the executable.
import type { Client } from "@libsql/client";

export interface Migration {
  tag: string;
  sql: string;
}

export async function applyMigrations(client: Client, migrations: Migration[]): Promise<string[]> {
  await client.execute(
    "CREATE TABLE IF NOT EXISTS __certhub_migrations (tag TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const done = new Set((await client.execute("SELECT tag FROM __certhub_migrations")).rows.map((r) => String(r.tag)));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.tag)) continue;
    const statements = m.sql
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter(Boolean);
    // One write transaction per migration: a failure leaves the database as it was.
    await client.batch(
      [
        ...statements,
        { sql: "INSERT OR IGNORE INTO __certhub_migrations (tag, applied_at) VALUES (?, ?)", args: [m.tag, Date.now()] },
      ],
      "write",
    );
    applied.push(m.tag);
  }
  return applied;
}
