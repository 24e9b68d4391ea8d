// Service presets: the servers a service deployment task knows by name (nginx, apache, haproxy,
// postfix), their config tests and direct reloads, and the systemctl / launchctl lines, as plain
// data. The agent runs them (src/agent/deploy/service.ts); the hub's pages show them, so an
// admin reads exactly what the agent will run. No I/O here: which alternative runs is decided on
// the agent (the first found on PATH).
import type { z } from "zod";
import type { ServiceTaskSchema } from "./certificates";

type ServiceTask = z.infer<typeof ServiceTaskSchema>;
export const SERVICE_PRESETS = ["nginx", "apache", "haproxy", "postfix"] as const;
export type PresetName = (typeof SERVICE_PRESETS)[number];

/** haproxy's usual config files, in the order the agent looks for one when the task names none. */
export const HAPROXY_DEFAULT_CONFIGS = ["/etc/haproxy/haproxy.cfg", "/usr/local/etc/haproxy/haproxy.cfg"];

export interface ConfigTest {
  preset: PresetName;
  /**
   * The test, as steps run in order; each step lists alternatives of which the first found on
   * PATH runs. (postfix: `postconf` first, because `postfix check` prints nothing when its
   * output is not a terminal, while postconf names the broken main.cf line.)
   */
  steps: string[][][];
}

/** The preset a unit/label name stands for: "nginx", "nginx.service", "homebrew.mxcl.nginx" … */
export function presetName(name: string): PresetName | null {
  const base = name.replace(/\.service$/, "").replace(/@.*$/, "").split(".").pop()!.toLowerCase();
  switch (base) {
    case "nginx":
      return "nginx";
    case "apache2":
    case "apache":
    case "httpd":
      return "apache";
    case "haproxy":
      return "haproxy";
    case "postfix":
      return "postfix";
    default:
      return null;
  }
}

/** The preset's config test for a unit/label name (and the server's config, if not the default). */
export function presetFor(name: string, config?: string): ConfigTest | null {
  const preset = presetName(name);
  if (!preset) return null;
  let steps: string[][][];
  switch (preset) {
    case "nginx":
      steps = [[["nginx", ...(config ? ["-c", config] : []), "-t"]]];
      break;
    case "apache":
      steps = [config ? ["apachectl", "apache2ctl", "httpd"].map((c) => [c, "-f", config, "-t"]) : [["apachectl", "configtest"], ["apache2ctl", "configtest"], ["httpd", "-t"]]];
      break;
    case "haproxy":
      steps = [[["haproxy", "-c", "-f", config ?? HAPROXY_DEFAULT_CONFIGS[0]]]];
      break;
    case "postfix": {
      const c = config ? ["-c", config] : [];
      steps = [[["postconf", ...c, "-h", "mail_version"]], [["postfix", ...c, "check"]]];
      break;
    }
  }
  return { preset, steps };
}

/** The direct reload of a preset (manager "direct"), as alternatives; haproxy is signalled instead. */
export function directReloadCommands(preset: PresetName, action: "reload" | "restart", config?: string): string[][] {
  switch (preset) {
    case "nginx":
      return [["nginx", ...(config ? ["-c", config] : []), "-s", "reload"]];
    case "apache":
      return ["apachectl", "apache2ctl", "httpd"].map((c) => [c, ...(config ? ["-f", config] : []), "-k", action === "restart" ? "restart" : "graceful"]);
    case "postfix":
      return [["postfix", ...(config ? ["-c", config] : []), "reload"]];
    case "haproxy":
      return [];
  }
}

/** The reload/restart command lines for a systemd/launchd task, in order (without the preset's config test). */
export function serviceCommands(task: Pick<ServiceTask, "manager" | "name" | "action">): string[][] {
  const action = task.action ?? "reload";
  if (task.manager === "systemd") {
    return [["systemctl", action === "restart" ? "restart" : "reload-or-restart", task.name], ["systemctl", "is-active", task.name]];
  }
  const target = task.name.includes("/") ? task.name : `system/${task.name}`;
  return action === "restart" ? [["launchctl", "kickstart", "-k", target]] : [["launchctl", "kill", "SIGHUP", target]];
}
