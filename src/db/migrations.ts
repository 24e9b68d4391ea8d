// Hub migrations, embedded as text. After `npm run db:generate`, add the new file here
// (test/db/migrations.test.ts fails while one is missing).
import m0000 from "../../drizzle/hub/0000_init.sql" with { type: "text" };
import type { Migration } from "./migrate";

export const hubMigrations: Migration[] = [{ tag: "0000_init", sql: m0000 }];
