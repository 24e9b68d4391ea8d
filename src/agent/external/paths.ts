// Where each external ACME client keeps its files, per OS, and how a configured path
// overrides that. Windows-only clients have no default on Linux/macOS: there they are read
// only from a configured path (a mounted or copied tree).
import path from "node:path";
import type { ExternalManagerName } from "../../protocol/certificates";
import type { ExternalManagersSetting } from "../../protocol/settings";
import type { ScanEnvironment } from "./common";

export interface ClientPaths {
  /** Config roots to scan in order; empty when the client has no default on this OS. */
  roots: string[];
  logPath?: string;
  /** True when the roots come from the setting rather than the defaults. */
  configured: boolean;
}

/** Built-in locations of one client on this host. */
export function defaultPaths(name: ExternalManagerName, env: ScanEnvironment): { roots: string[]; logPath?: string } {
  const win = env.platform === "win32";
  const p = win ? path.win32 : path.posix;
  const programData = env.env.PROGRAMDATA ?? env.env.ProgramData ?? "C:\\ProgramData";
  switch (name) {
    case "acme.sh": {
      if (win) return { roots: [] };
      const roots = [p.join(env.home, ".acme.sh")];
      if (env.isRoot) roots.push("/root/.acme.sh");
      return { roots: [...new Set(roots)] };
    }
    case "certbot":
      return win ? { roots: ["C:\\Certbot"], logPath: "C:\\Certbot\\log" } : { roots: ["/etc/letsencrypt"], logPath: "/var/log/letsencrypt" };
    case "posh-acme": {
      // Posh-ACME reads POSHACME_HOME; POSH_ACME_HOME is accepted as a common misspelling.
      const home = env.env.POSHACME_HOME ?? env.env.POSH_ACME_HOME;
      if (home) return { roots: [home] };
      if (win) return { roots: [p.join(env.env.LOCALAPPDATA ?? p.join(env.home, "AppData", "Local"), "Posh-ACME")] };
      if (env.platform === "darwin") return { roots: [p.join(env.home, "Library", "Preferences", "Posh-ACME"), p.join(env.home, ".config", "Posh-ACME")] };
      return { roots: [p.join(env.home, ".config", "Posh-ACME")] };
    }
    case "simple-acme":
      if (win) return { roots: [p.join(programData, "simple-acme")] };
      // simple-acme also runs on Linux (.NET CommonApplicationData / LocalApplicationData).
      if (env.platform === "linux") return { roots: [env.isRoot ? "/usr/share/simple-acme" : p.join(env.home, ".local", "share", "simple-acme")] };
      return { roots: [] };
    case "win-acme":
      return win ? { roots: [p.join(programData, "win-acme")] } : { roots: [] };
  }
}

/** The setting's configPath/logPath win over the defaults. */
export function resolvePaths(name: ExternalManagerName, setting: ExternalManagersSetting, env: ScanEnvironment): ClientPaths {
  const own = setting[name];
  const defaults = defaultPaths(name, env);
  if (own?.configPath) {
    // A moved config dir has its logs elsewhere too: only an explicit logPath is read then.
    return { roots: [own.configPath], logPath: own.logPath, configured: true };
  }
  return { roots: defaults.roots, logPath: own?.logPath ?? defaults.logPath, configured: false };
}
