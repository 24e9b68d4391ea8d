// Agent migrations, embedded as text (the binary carries no migrations folder).
// After `npx drizzle-kit generate --config drizzle/agent.config.ts --name …`, add the file here.
import m0000 from "../../../drizzle/agent/0000_init.sql" with { type: "text" };
import m0001 from "../../../drizzle/agent/0001_certificates.sql" with { type: "text" };
import type { Migration } from "../../db/migrate";

export const agentMigrations: Migration[] = [
  { tag: "0000_init", sql: m0000 },
  { tag: "0001_certificates", sql: m0001 },
];
