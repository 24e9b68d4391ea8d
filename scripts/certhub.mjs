#!/usr/bin/env node
// `npx certhub …` from a source checkout: runs src/main.ts with the project's own Bun
// (node_modules/.bin/bun, installed by `npm install`). The built binary (dist/certhub, from
// `npm run build`) is what to copy to hosts; this launcher is for working in the clone.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bun = join(root, "node_modules", ".bin", process.platform === "win32" ? "bun.exe" : "bun");
if (!existsSync(bun)) {
  console.error(`certhub: ${bun} is missing; run \`npm install\` in ${root} first (or use the built binary dist/certhub)`);
  process.exit(1);
}
const r = spawnSync(bun, [join(root, "src", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
if (r.error) {
  console.error(`certhub: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? (r.signal ? 128 : 1));
