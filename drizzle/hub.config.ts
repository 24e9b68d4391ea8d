import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes hub migrations here; src/db/migrations.ts embeds them.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle/hub",
});
