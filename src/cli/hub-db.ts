// Opens the hub database for admin CLI commands (same data dir / db URL rules as serve).
import { mkdirSync } from "node:fs";
import { openHubDatabase } from "../db/client";
import { bootstrapBanner, bootstrapHub } from "../hub/bootstrap";
import { resolveHubConfig, type HubFlags } from "../hub/config";

export async function openHubForCli(flags: HubFlags) {
  const config = resolveHubConfig(flags);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const opened = await openHubDatabase(config.dbUrl, config.dbAuthToken);
  // A CLI run against an empty database performs the first-run bootstrap, like `serve`.
  const first = await bootstrapHub(opened.db);
  if (first) console.error(bootstrapBanner(first, "https://<hub-host>:9697"));
  return { ...opened, config };
}
