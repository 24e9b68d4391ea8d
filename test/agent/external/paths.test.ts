// Default discovery paths per client and OS, and how the setting overrides them.
import { describe, expect, test } from "bun:test";
import type { ScanEnvironment } from "../../../src/agent/external";
import { defaultPaths, resolvePaths } from "../../../src/agent/external/paths";

const linuxUser: ScanEnvironment = { home: "/home/alice", isRoot: false, platform: "linux", env: {} };
const linuxRoot: ScanEnvironment = { home: "/root", isRoot: true, platform: "linux", env: {} };
const windows: ScanEnvironment = { home: "C:\\Users\\svc", isRoot: false, platform: "win32", env: { PROGRAMDATA: "C:\\ProgramData", LOCALAPPDATA: "C:\\Users\\svc\\AppData\\Local" } };

describe("external client paths", () => {
  test("acme.sh: the agent user's ~/.acme.sh, plus /root/.acme.sh when running as root (once)", () => {
    expect(defaultPaths("acme.sh", linuxUser).roots).toEqual(["/home/alice/.acme.sh"]);
    expect(defaultPaths("acme.sh", { ...linuxRoot, home: "/var/lib/certhub" }).roots).toEqual(["/var/lib/certhub/.acme.sh", "/root/.acme.sh"]);
    expect(defaultPaths("acme.sh", linuxRoot).roots).toEqual(["/root/.acme.sh"]);
  });

  test("certbot: /etc/letsencrypt with logs in /var/log/letsencrypt", () => {
    expect(defaultPaths("certbot", linuxUser)).toEqual({ roots: ["/etc/letsencrypt"], logPath: "/var/log/letsencrypt" });
  });

  test("Posh-ACME: POSHACME_HOME, else ~/.config/Posh-ACME on Linux, %LOCALAPPDATA%\\Posh-ACME on Windows", () => {
    expect(defaultPaths("posh-acme", linuxUser).roots).toEqual(["/home/alice/.config/Posh-ACME"]);
    expect(defaultPaths("posh-acme", { ...linuxUser, env: { POSHACME_HOME: "/srv/pa" } }).roots).toEqual(["/srv/pa"]);
    expect(defaultPaths("posh-acme", windows).roots).toEqual(["C:\\Users\\svc\\AppData\\Local\\Posh-ACME"]);
  });

  test("simple-acme / win-acme: %PROGRAMDATA% on Windows; win-acme has no default elsewhere", () => {
    expect(defaultPaths("simple-acme", windows).roots).toEqual(["C:\\ProgramData\\simple-acme"]);
    expect(defaultPaths("win-acme", windows).roots).toEqual(["C:\\ProgramData\\win-acme"]);
    expect(defaultPaths("win-acme", linuxUser).roots).toEqual([]);
  });

  test("a configured path replaces the defaults; logs are then read only from a configured logPath", () => {
    expect(resolvePaths("certbot", { certbot: { enabled: true, configPath: "/mnt/le" } }, linuxUser)).toEqual({ roots: ["/mnt/le"], logPath: undefined, configured: true });
    expect(resolvePaths("certbot", { certbot: { enabled: true, logPath: "/srv/log" } }, linuxUser)).toEqual({ roots: ["/etc/letsencrypt"], logPath: "/srv/log", configured: false });
    expect(resolvePaths("win-acme", { "win-acme": { enabled: true, configPath: "/mnt/c/ProgramData/win-acme" } }, linuxUser).roots).toEqual(["/mnt/c/ProgramData/win-acme"]);
  });
});
