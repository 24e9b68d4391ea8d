// Agent settings from flags, environment and the host admin's local config file.
//   data dir: --data-dir, else $CERTHUB_AGENT_DATA_DIR, else /var/lib/certhub-agent (root)
//             or ~/.local/share/certhub-agent
//   listen:   --listen, else 127.0.0.2:9696 with fallback to 127.0.0.1:9696
//   scripts:  refused unless --allow-scripts or {"allowScripts": true} in <data-dir>/agent.json
//             — a local decision the hub cannot override (a compromised hub must not be able
//             to run code on hosts that did not opt in).
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseListen } from "../lib/listen";

export const DEFAULT_LISTEN = { hostname: "127.0.0.2", port: 9696 };
export const FALLBACK_LISTEN = { hostname: "127.0.0.1", port: 9696 };
export const TOKEN_FILE = "local-api.token";
/** Written at start: where the local API actually listens (the CLI reads it). */
export const ADDRESS_FILE = "local-api.addr";
export const CONFIG_FILE = "agent.json";

export interface AgentConfig {
  dataDir: string;
  /** Explicit --listen; otherwise the default with fallback. */
  listen: { hostname: string; port: number } | null;
  allowScripts: boolean;
}

export function defaultAgentDataDir(env = process.env): string {
  if (env.CERTHUB_AGENT_DATA_DIR) return path.resolve(env.CERTHUB_AGENT_DATA_DIR);
  if (process.getuid?.() === 0) return "/var/lib/certhub-agent";
  return path.join(os.homedir(), ".local", "share", "certhub-agent");
}

export function resolveAgentDataDir(flag: string | undefined, env = process.env): string {
  return flag ? path.resolve(flag) : defaultAgentDataDir(env);
}

interface LocalConfigFile {
  allowScripts?: boolean;
}

export function readLocalConfig(dataDir: string): LocalConfigFile {
  const file = path.join(dataDir, CONFIG_FILE);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LocalConfigFile;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : err}`);
  }
}

export function resolveAgentConfig(flags: { "data-dir"?: string; listen?: string; "allow-scripts"?: boolean }, env = process.env): AgentConfig {
  const dataDir = resolveAgentDataDir(flags["data-dir"], env);
  const local = readLocalConfig(dataDir);
  return {
    dataDir,
    listen: flags.listen ? parseListen(flags.listen) : null,
    allowScripts: Boolean(flags["allow-scripts"]) || local.allowScripts === true,
  };
}

export function tokenPath(dataDir: string) {
  return path.join(dataDir, TOKEN_FILE);
}

/** CERTHUB_AGENT_MACHINE_ID: replaces the OS machine id (containers without one, tests); "" when unset. */
export function machineIdOverride(env = process.env): string {
  return env.CERTHUB_AGENT_MACHINE_ID ?? "";
}
