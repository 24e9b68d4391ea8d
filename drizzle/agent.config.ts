import { defineConfig } from "drizzle-kit";

// The agent's own small database; src/agent/db/migrations.ts embeds these.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/agent/db/schema.ts",
  out: "./drizzle/agent",
});
