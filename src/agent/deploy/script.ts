// Script task: run a command the host admin installed, with the certificate's paths, domains,
// serial and expiry in its environment. Refused unless this host allowed scripts locally
// (--allow-scripts / agent.json), so a hub cannot run code on hosts that did not opt in.
//
// No shell: the command and its arguments go to execve as given. The child runs in its own
// process group (detached) so a timeout kills the whole group — Bun.spawn's `timeout` kills only
// the direct child and leaves grandchildren (`sleep`, a daemon) running (acme-stack.md §8.10).
import { spawn } from "node:child_process";
import type { ScriptTaskSchema } from "../../protocol/certificates";
import type { z } from "zod";
import { TaskError, tail, type TaskOutput, type TaskRun } from "./types";

type ScriptTask = z.infer<typeof ScriptTaskSchema>;

export const SCRIPTS_REFUSED =
  "scripts are disabled on this host: the host admin must start the agent with --allow-scripts " +
  '(or set "allowScripts": true in agent.json in the agent data dir)';

const DEFAULT_TIMEOUT_SECONDS = 300;
/** After SIGTERM to the group, how long before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** After the script exits, how long to wait for pipes a background grandchild may hold open. */
const PIPE_GRACE_MS = 1000;
const OUTPUT_KEEP = 8000;

/** The environment a script (and the DNS exec hook, if it wants) sees. */
export function scriptEnvironment(run: TaskRun, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith("CERTHUB_")) env[k] = v;
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) env[k] = v;
  };
  set("CERTHUB_OUTCOME", run.outcome);
  set("CERTHUB_INSTANCE_ID", run.ctx.instanceId);
  const cert = run.cert;
  if (cert) {
    set("CERTHUB_CERTIFICATE_ID", cert.id);
    set("CERTHUB_CERTIFICATE_NAME", cert.name);
    set("CERTHUB_DOMAINS", cert.domains.join(" "));
    set("CERTHUB_SERIAL", cert.serial);
    set("CERTHUB_NOT_BEFORE", new Date(cert.notBefore).toISOString());
    set("CERTHUB_NOT_AFTER", new Date(cert.notAfter).toISOString());
  }
  set("CERTHUB_CERT_PATH", run.paths.cert);
  set("CERTHUB_KEY_PATH", run.paths.key);
  set("CERTHUB_CHAIN_PATH", run.paths.chain);
  set("CERTHUB_FULLCHAIN_PATH", run.paths.fullchain);
  set("CERTHUB_PFX_PATH", run.paths.pfx);
  return env;
}

export async function runScriptTask(task: ScriptTask, run: TaskRun): Promise<TaskOutput> {
  if (!run.ctx.allowScripts) throw new TaskError(SCRIPTS_REFUSED);
  const timeoutMs = (task.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const r = await runCommand(task.command, task.args ?? [], { env: scriptEnvironment(run), timeoutMs, signal: run.signal });
  if (r.error) throw new TaskError(`${task.command}: cannot start: ${r.error}`);
  if (r.timedOut) throw new TaskError(`${task.command}: timed out after ${timeoutMs / 1000}s; its process group was killed`, r.output);
  if (r.cancelled) throw new TaskError(`${task.command}: cancelled; its process group was killed`, r.output);
  if (r.signal) throw new TaskError(`${task.command}: killed by ${r.signal}`, r.output);
  // The error is the last thing the script said on stderr (a long stdout may arrive after it:
  // the two pipes are read independently), else the last line of its output.
  if (r.code !== 0) throw new TaskError(`${task.command}: exited ${r.code}${lastLine(r.lastErrorLine || r.output)}`, r.output);
  return { message: `${task.command}: exited 0`, output: r.output || undefined };
}

export interface CommandResult {
  code: number | null;
  signal: string | null;
  /** stdout and stderr interleaved, the last few KB. */
  output: string;
  /** The last non-empty line written to stderr ("" when none). */
  lastErrorLine: string;
  timedOut: boolean;
  cancelled: boolean;
  /** Set when the command could not be started (ENOENT, EACCES). */
  error?: string;
}

/** Runs `cmd args` (no shell) in its own process group; kills the group on timeout or abort. */
export function runCommand(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs: number; signal?: AbortSignal; cwd?: string }): Promise<CommandResult> {
  return new Promise((resolve) => {
    let output = "";
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd ?? "/", detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.length > 2 * OUTPUT_KEEP) output = output.slice(-OUTPUT_KEEP);
    };
    // The last stderr line, kept apart: interleaving order across two pipes is not reliable.
    let stderrTail = "";
    child.stdout?.on("data", collect);
    child.stderr?.on("data", (chunk: Buffer) => {
      collect(chunk);
      stderrTail = (stderrTail + chunk.toString("utf8")).slice(-4096);
    });

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is gone already
      }
    };
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    const finish = (r: Omit<CommandResult, "output" | "lastErrorLine" | "timedOut" | "cancelled">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      // A timed-out group gets its SIGKILL even if the leader died of the SIGTERM.
      if (!timedOut && !cancelled && killTimer) clearTimeout(killTimer);
      const lastErrorLine = stderrTail.split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? "";
      resolve({ ...r, output: tail(output, OUTPUT_KEEP), lastErrorLine, timedOut, cancelled });
    };
    child.on("error", (e) => finish({ code: null, signal: null, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    // "close" comes after "exit" once both pipes are closed; a backgrounded grandchild may keep
    // them open forever, so after "exit" the pipes get a short grace and are then dropped.
    child.on("close", (code, signal) => finish({ code, signal }));
    child.on("exit", (code, signal) => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish({ code, signal });
      }, PIPE_GRACE_MS);
    });
  });
}

function lastLine(output: string): string {
  const line = output.trim().split("\n").pop()?.trim();
  return line ? `: ${line.slice(0, 300)}` : "";
}
