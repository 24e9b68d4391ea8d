// Service task: make a running server pick up the new certificate.
//   systemd: `systemctl reload-or-restart <unit>` (action reload) or `systemctl restart <unit>`,
//            then `systemctl is-active <unit>` must say "active".
//   launchd: `launchctl kickstart -k system/<label>` (restart) or `launchctl kill SIGHUP
//            system/<label>` (reload).
// Presets: a unit named after nginx, apache (apache2/httpd), haproxy or postfix first runs that
// server's own config test; when the test fails the reload is not attempted (the old config and
// certificate keep being served) and the task reports the server's own error text.
// All commands via execFile (no shell), each with a timeout, looked up on PATH.
import { statSync } from "node:fs";
import type { ServiceTaskSchema } from "../../protocol/certificates";
import type { z } from "zod";
import { runCommand, type CommandResult } from "./script";
import { TaskError, type TaskOutput, type TaskRun } from "./types";

type ServiceTask = z.infer<typeof ServiceTaskSchema>;

const COMMAND_TIMEOUT_MS = 60_000;

export interface ConfigTest {
  preset: string;
  /** Alternatives tried in order; the first one found on PATH runs. */
  commands: string[][];
}

/** The preset for a unit/label name, if any: "nginx", "nginx.service", "homebrew.mxcl.nginx" … */
export function presetFor(name: string): ConfigTest | null {
  const base = name.replace(/\.service$/, "").replace(/@.*$/, "").split(".").pop()!.toLowerCase();
  switch (base) {
    case "nginx":
      return { preset: "nginx", commands: [["nginx", "-t"]] };
    case "apache2":
    case "apache":
    case "httpd":
      return { preset: "apache", commands: [["apachectl", "configtest"], ["apache2ctl", "configtest"], ["httpd", "-t"]] };
    case "haproxy":
      return { preset: "haproxy", commands: [["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"], ["haproxy", "-c", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]] };
    case "postfix":
      return { preset: "postfix", commands: [["postfix", "check"]] };
    default:
      return null;
  }
}

/** The reload/restart command lines for a task, in order (without the preset's config test). */
export function serviceCommands(task: Pick<ServiceTask, "manager" | "name" | "action">): string[][] {
  const action = task.action ?? "reload";
  if (task.manager === "systemd") {
    return [["systemctl", action === "restart" ? "restart" : "reload-or-restart", task.name], ["systemctl", "is-active", task.name]];
  }
  const target = task.name.includes("/") ? task.name : `system/${task.name}`;
  return action === "restart" ? [["launchctl", "kickstart", "-k", target]] : [["launchctl", "kill", "SIGHUP", target]];
}

export async function runServiceTask(task: ServiceTask, run: TaskRun, env: Record<string, string | undefined> = process.env): Promise<TaskOutput> {
  const log: string[] = [];
  const exec = async (argv: string[]): Promise<CommandResult> => {
    const path = which(argv[0], env.PATH);
    if (!path) throw new TaskError(`${argv[0]} not found on PATH (${env.PATH ?? ""})`, log.join("\n"));
    const r = await runCommand(path, argv.slice(1), { timeoutMs: COMMAND_TIMEOUT_MS, signal: run.signal, env: cleanEnv(env) });
    log.push(`$ ${argv.join(" ")}${r.output ? "\n" + r.output.trimEnd() : ""}${r.code !== 0 ? `\n(exit ${r.code ?? r.signal})` : ""}`);
    if (r.error) throw new TaskError(`${argv.join(" ")}: cannot start: ${r.error}`, log.join("\n"));
    if (r.timedOut) throw new TaskError(`${argv.join(" ")}: timed out after ${COMMAND_TIMEOUT_MS / 1000}s`, log.join("\n"));
    return r;
  };

  const test = presetFor(task.name);
  if (test) {
    const argv = test.commands.find((c) => which(c[0], env.PATH)) ?? test.commands[0];
    const r = await exec(argv);
    if (r.code !== 0) {
      throw new TaskError(`${test.preset} config test failed, not reloading (${argv.join(" ")}): ${errorLines(r.output)}`, log.join("\n"));
    }
  }
  for (const argv of serviceCommands(task)) {
    const r = await exec(argv);
    if (r.code !== 0) {
      const what = argv[1] === "is-active" ? `${task.name} is not active after the ${task.action ?? "reload"} (${r.output.trim() || `exit ${r.code}`})` : `${argv.join(" ")} exited ${r.code ?? r.signal}: ${errorLines(r.output)}`;
      throw new TaskError(what, log.join("\n"));
    }
  }
  const verb = task.manager === "systemd" ? (task.action === "restart" ? "restarted" : "reloaded") : task.action === "restart" ? "restarted" : "sent SIGHUP to";
  return { message: `${verb} ${task.name}${test ? ` (${test.preset} config test passed)` : ""}`, output: log.join("\n") };
}

/** A short output whole; of a long one, the lines that carry the error (nginx "[emerg]", apache "AH…"). */
function errorLines(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length <= 6) return lines.join(" | ").slice(0, 1500) || "no output";
  const interesting = lines.filter((l) => /emerg|alert|crit|error|fatal|warning|failed|syntax|AH\d+|\[ALERT\]|invalid/i.test(l));
  return (interesting.length ? interesting : lines).join(" | ").slice(0, 1500) || "no output";
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith("CERTHUB_")) out[k] = v;
  return out;
}

/** Absolute path of `cmd` on `PATH` (plus the sbin directories service tools live in), or null. */
export function which(cmd: string, pathVar: string | undefined): string | null {
  const dirs = [...(pathVar ?? "").split(":").filter(Boolean), "/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"];
  for (const d of dirs) {
    const p = `${d}/${cmd}`;
    try {
      const st = statSync(p);
      if (st.isFile() && st.mode & 0o111) return p;
    } catch {
      // not here
    }
  }
  return null;
}
