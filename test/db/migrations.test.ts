// Embedded migrations: every generated SQL file is embedded, in order; applying is idempotent;
// a failing migration leaves the database as it was.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createClient } from "@libsql/client";
import { agentMigrations } from "../../src/agent/db/migrations";
import { applyMigrations } from "../../src/db/migrate";
import { hubMigrations } from "../../src/db/migrations";
import { ROOT, tempDir } from "../helpers";

for (const [name, list] of [["hub", hubMigrations], ["agent", agentMigrations]] as const) {
  test(`every drizzle/${name} migration is embedded, in journal order`, () => {
    const dir = path.join(ROOT, "drizzle", name);
    const journal = JSON.parse(readFileSync(path.join(dir, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
    const files = readdirSync(dir).filter((f) => f.endsWith(".sql")).map((f) => f.replace(/\.sql$/, "")).sort();
    expect(journal.entries.map((e) => e.tag)).toEqual(files);
    expect(list.map((m) => m.tag)).toEqual(files);
    for (const m of list) expect(m.sql).toBe(readFileSync(path.join(dir, `${m.tag}.sql`), "utf8"));
  });
}

test("migrations apply to an empty database once; a second run applies nothing", async () => {
  const client = createClient({ url: `file:${path.join(tempDir(), "m.db")}` });
  expect(await applyMigrations(client, hubMigrations)).toEqual(hubMigrations.map((m) => m.tag));
  expect(await applyMigrations(client, hubMigrations)).toEqual([]);
  const tables = (await client.execute("select name from sqlite_master where type = 'table'")).rows.map((r) => r.name);
  for (const t of ["users", "principals", "roles", "principal_roles", "api_tokens", "sessions", "instances", "commands", "certificates", "audit_log"]) {
    expect(tables).toContain(t);
  }
  client.close();
});

test("a failing migration is rolled back entirely and reported", async () => {
  const client = createClient({ url: `file:${path.join(tempDir(), "bad.db")}` });
  const bad = [{ tag: "9999_bad", sql: "CREATE TABLE half_done (id INTEGER);\n--> statement-breakpoint\nTHIS IS NOT SQL;" }];
  await expect(applyMigrations(client, bad)).rejects.toThrow();
  const tables = (await client.execute("select name from sqlite_master where type = 'table'")).rows.map((r) => r.name);
  expect(tables).not.toContain("half_done");
  const applied = (await client.execute("select tag from __certhub_migrations")).rows;
  expect(applied).toHaveLength(0);
  client.close();
});
