// Hub migrations, embedded as text. After `npm run db:generate`, add the new file here
// (test/db/migrations.test.ts fails while one is missing).
import m0000 from "../../drizzle/hub/0000_init.sql" with { type: "text" };
import m0001 from "../../drizzle/hub/0001_instances_public_key.sql" with { type: "text" };
import m0002 from "../../drizzle/hub/0002_instances_hostname.sql" with { type: "text" };
import m0003 from "../../drizzle/hub/0003_certificates.sql" with { type: "text" };
import m0004 from "../../drizzle/hub/0004_instance-display-name.sql" with { type: "text" };
import m0005 from "../../drizzle/hub/0005_instance-allow-scripts.sql" with { type: "text" };
import type { Migration } from "./migrate";

export const hubMigrations: Migration[] = [
  { tag: "0000_init", sql: m0000 },
  { tag: "0001_instances_public_key", sql: m0001 },
  { tag: "0002_instances_hostname", sql: m0002 },
  { tag: "0003_certificates", sql: m0003 },
  { tag: "0004_instance-display-name", sql: m0004 },
  { tag: "0005_instance-allow-scripts", sql: m0005 },
];
