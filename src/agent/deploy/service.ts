// Service task: make a running server pick up the new certificate.
//   systemd: `systemctl reload-or-restart <unit>` (action reload) or `systemctl restart <unit>`,
//            then `systemctl is-active <unit>` must say "active".
//   launchd: `launchctl kickstart -k system/<label>` (restart) or `launchctl kill SIGHUP
//            system/<label>` (reload).
//   direct:  no service manager (a container, a server started by hand): the preset reloads the
//            server itself — `nginx -s reload`, `apachectl -k graceful` (restart: `-k restart`),
//            SIGUSR2 to the haproxy master (master-worker mode; its pid file), `postfix reload`.
// Presets: a unit named after nginx, apache (apache2/httpd), haproxy or postfix first runs that
// server's own config test; when the test fails the reload is not attempted (the old config and
// certificate keep being served) and the task reports the server's own error text. The task's
// optional `config` names the server's config file (postfix: config directory) when it is not the
// default; the test and the direct reload both use it.
// All commands via execFile (no shell), each with a timeout, looked up on PATH.
import { existsSync, readFileSync, statSync } from "node:fs";
import type { ServiceTaskSchema } from "../../protocol/certificates";
import { directReloadCommands, HAPROXY_DEFAULT_CONFIGS, presetFor, presetName, serviceCommands } from "../../protocol/service-presets";
import type { z } from "zod";
import { runCommand, type CommandResult } from "./script";
import { TaskError, type TaskOutput, type TaskRun } from "./types";

type ServiceTask = z.infer<typeof ServiceTaskSchema>;
const COMMAND_TIMEOUT_MS = 60_000;
/** Where Debian's haproxy unit and init script keep the master's pid. */
const HAPROXY_DEFAULT_PIDFILE = "/run/haproxy.pid";

/** haproxy's default config: Debian's, then the one of source builds and the Docker image. */
function haproxyDefaultConfig(): string | undefined {
  return HAPROXY_DEFAULT_CONFIGS.find((path) => existsSync(path));
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
  const pick = (alternatives: string[][]) => alternatives.find((c) => which(c[0], env.PATH)) ?? alternatives[0];

  // haproxy has two usual config places; the one that exists is tested and read for its pidfile.
  const config = task.config ?? (presetName(task.name) === "haproxy" ? haproxyDefaultConfig() : undefined);
  const test = presetFor(task.name, config);
  if (task.manager === "direct" && !test) {
    throw new TaskError(`manager "direct" reloads only the nginx, apache, haproxy and postfix presets; "${task.name}" is none of them (use systemd or launchd, or a script task)`);
  }
  if (test) {
    for (const step of test.steps) {
      const argv = pick(step);
      const r = await exec(argv);
      if (r.code !== 0) {
        throw new TaskError(`${test.preset} config test failed, not reloading (${argv.join(" ")}): ${errorLines(r.output)}`, log.join("\n"));
      }
    }
  }
  const action = task.action ?? "reload";
  if (task.manager === "direct") {
    const preset = test!.preset;
    let how: string;
    if (preset === "haproxy") {
      how = signalHaproxy(config, log);
    } else {
      const argv = pick(directReloadCommands(preset, action, config));
      const r = await exec(argv);
      if (r.code !== 0) throw new TaskError(`${argv.join(" ")} exited ${r.code ?? r.signal}: ${errorLines(r.output)}`, log.join("\n"));
      how = argv.join(" ");
    }
    return { message: `${action === "restart" && preset === "apache" ? "restarted" : "reloaded"} ${task.name} with ${how} (${preset} config test passed)`, output: log.join("\n") };
  }
  for (const argv of serviceCommands(task)) {
    const r = await exec(argv);
    if (r.code !== 0) {
      const what = argv[1] === "is-active" ? `${task.name} is not active after the ${action} (${r.output.trim() || `exit ${r.code}`})` : `${argv.join(" ")} exited ${r.code ?? r.signal}: ${errorLines(r.output)}`;
      throw new TaskError(what, log.join("\n"));
    }
  }
  const verb = task.manager === "systemd" ? (action === "restart" ? "restarted" : "reloaded") : action === "restart" ? "restarted" : "sent SIGHUP to";
  return { message: `${verb} ${task.name}${test ? ` (${test.preset} config test passed)` : ""}`, output: log.join("\n") };
}

/**
 * haproxy has no reload command: in master-worker mode (-W, -Ws, or `master-worker` in global)
 * the master re-reads its config on SIGUSR2 (what Debian's unit and the Docker image do). The
 * master's pid comes from the config's `pidfile` (else Debian's /run/haproxy.pid); the pid must
 * be a running haproxy in master-worker mode, so a stale pid file never signals another process.
 */
function signalHaproxy(config: string | undefined, log: string[]): string {
  const configText = readConfig(config ?? "/etc/haproxy/haproxy.cfg");
  const pidFile = configText?.match(/^\s*pidfile\s+(\S+)/m)?.[1] ?? HAPROXY_DEFAULT_PIDFILE;
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, "utf8").trim().split(/\s+/)[0], 10);
  } catch (err) {
    throw new TaskError(`cannot read haproxy's pid file ${pidFile} (${(err as Error).message}); set "pidfile" in the global section or use manager systemd`);
  }
  if (!Number.isInteger(pid) || pid <= 1) throw new TaskError(`haproxy's pid file ${pidFile} holds no usable pid`);
  if (existsSync("/proc/self")) {
    const comm = readProc(`/proc/${pid}/comm`)?.trim();
    if (comm === undefined) throw new TaskError(`haproxy is not running: pid ${pid} from ${pidFile} does not exist`);
    if (comm !== "haproxy") throw new TaskError(`pid ${pid} from ${pidFile} is "${comm}", not haproxy: not signalling it`);
    const args = (readProc(`/proc/${pid}/cmdline`) ?? "").split("\0");
    const masterWorker = args.includes("-W") || args.includes("-Ws") || /^\s*master-worker\b/m.test(configText ?? "");
    if (!masterWorker) throw new TaskError(`haproxy (pid ${pid}) does not run in master-worker mode (-W / -Ws / "master-worker" in global), so it cannot reload on a signal; start it that way or use manager systemd`);
  }
  try {
    process.kill(pid, "SIGUSR2");
  } catch (err) {
    throw new TaskError(`cannot signal haproxy (pid ${pid}): ${(err as Error).message}`);
  }
  log.push(`$ kill -USR2 ${pid}   # haproxy master, from ${pidFile}`);
  return `SIGUSR2 to the master (pid ${pid})`;
}

function readConfig(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
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
