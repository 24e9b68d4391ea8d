// Opens the hub database: a local libSQL file by default, or a libSQL server.
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { gateTransactions } from "../lib/transaction-gate";
import { preparePrivateDatabase, restrictDatabaseSideFiles } from "../lib/private-files";
import { applyMigrations, type Migration } from "./migrate";
import { hubMigrations } from "./migrations";
import * as schema from "./schema";

export type HubDb = LibSQLDatabase<typeof schema>;

export interface OpenedDb<S extends Record<string, unknown>> {
  client: Client;
  db: LibSQLDatabase<S>;
  close(): void;
}

/**
 * Opens a libSQL database and applies the given migrations. Local files use WAL and a
 * busy timeout so the admin CLI can write while a hub or agent process is running.
 */
export async function openDatabase<S extends Record<string, unknown>>(
  url: string,
  schemaModule: S,
  migrations: Migration[],
  authToken?: string,
): Promise<OpenedDb<S>> {
  const local = url.startsWith("file:");
  // Owner-only (0600) database, WAL and SHM: they hold password hashes and keys.
  const file = local ? localPath(url) : null;
  if (file) preparePrivateDatabase(file);
  // Local files: one connection, so the per-connection PRAGMAs below hold for every query
  // (the client's pool would open further connections without them); SQLite has one writer
  // anyway. `timeout` is the busy timeout for any connection the client opens.
  // Interactive transactions hold that one connection: other queries wait for them (gate).
  const client = local ? gateTransactions(createClient({ url, concurrency: 1, timeout: 5000 })) : createClient({ url, authToken });
  if (local) {
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = NORMAL");
    await client.execute("PRAGMA foreign_keys = ON");
  }
  if (file) restrictDatabaseSideFiles(file);
  await applyMigrations(client, migrations);
  const db = drizzle(client, { schema: schemaModule });
  return { client, db, close: () => client.close() };
}

/** The file path of a `file:` URL (`file:/a/b.db`, `file:///a/b.db`, `file:rel.db?mode=…`). */
function localPath(url: string): string | null {
  let p = url.slice("file:".length).replace(/\?.*$/, "");
  if (p.startsWith("//")) p = p.replace(/^\/\/[^/]*/, "");
  return p && p !== ":memory:" ? p : null;
}

export function openHubDatabase(url: string, authToken?: string) {
  return openDatabase(url, schema, hubMigrations, authToken);
}
