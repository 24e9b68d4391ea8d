// Opens the hub database for admin CLI commands (same data dir / db URL rules as serve).
// Only `serve` creates a hub: an admin command run where no hub lives must not leave a new
// data dir, admin password and joining key behind (it would look like a working hub).
import { existsSync } from "node:fs";
import path from "node:path";
import { openHubDatabase } from "../db/client";
import { isBootstrapped } from "../hub/bootstrap";
import { resolveHubConfig, type HubFlags } from "../hub/config";
import { UsageError } from "./args";

export class NoHubError extends UsageError {}

export async function openHubForCli(flags: HubFlags) {
  const config = resolveHubConfig(flags);
  const local = config.dbUrl.startsWith("file:");
  const missing = `no hub data in ${config.dataDir}; pass --data-dir or set CERTHUB_DATA_DIR (start a hub there first with \`certhub serve\`)`;
  if (local && !existsSync(config.dbUrl.slice("file:".length))) throw new NoHubError(missing);
  const opened = await openHubDatabase(config.dbUrl, config.dbAuthToken);
  if (!(await isBootstrapped(opened.db).catch(() => false))) {
    opened.close();
    throw new NoHubError(local ? missing : `the database at ${config.dbUrl} holds no hub yet; start one with \`certhub serve --db-url …\` first`);
  }
  return { ...opened, config, dataDir: path.resolve(config.dataDir) };
}
