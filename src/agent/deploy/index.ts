// Deployment tasks: after a certificate is issued or renewed (or on "Deploy now"), run the
// certificate's task list in order — PEM files, PKCS#12, script, service reload, webhook, wait —
// and return each task's result for the hub. One module per task type; this file only decides
// which tasks run, retries them, stops on failure (unless continueOnError) and never throws.
import type { DeploymentTask } from "../../protocol/certificates";
import { deployPem } from "./pem";
import { deployPfx } from "./pfx";
import { runScriptTask } from "./script";
import { runServiceTask } from "./service";
import { abortableSleep, runWaitTask } from "./wait";
import { sendWebhook } from "./webhook";
import { TaskError, TaskSkipped, tail, type DeployContext, type DeployOutcome, type DeployableCertificate, type TaskOutput, type TaskResult, type TaskRun } from "./types";

export type { DeployableCertificate, DeployContext, DeployOutcome, TaskResult, DeployedPaths } from "./types";
export { writeFileAtomic } from "./atomic-write";
export { checkServed, verifyTarget, type VerifyTarget } from "./verify";

/** Seconds between retries when a task asks for retries without a delay. */
const DEFAULT_RETRY_DELAY_SECONDS = 5;
const MESSAGE_LIMIT = 2000;
const OUTPUT_LIMIT = 4000;
const TRIGGER_SKIP = "not run: trigger ";

/**
 * Which tasks an outcome runs: success → "success" and "always"; failure → "failure" and
 * "always"; manual ("Deploy now", "Test task") → every task, manual-only ones included.
 */
export function triggerMatches(trigger: DeploymentTask["trigger"] | undefined, outcome: DeployOutcome): boolean {
  const t = trigger ?? "success";
  if (outcome === "manual") return true;
  return t === "always" || t === outcome;
}

/**
 * Runs `tasks` in order for `cert` (null when there is no certificate, e.g. a first order failed).
 * A task that fails stops the rest (reported "skipped") unless it has continueOnError. Returns one
 * result per task, in task order. A failure never throws.
 */
export async function runDeployments(tasks: DeploymentTask[], cert: DeployableCertificate | null, outcome: DeployOutcome, ctx: DeployContext): Promise<TaskResult[]> {
  const results: TaskResult[] = [];
  const run: TaskRun = { cert, outcome, ctx, paths: { ...(cert?.files ?? {}) }, signal: ctx.signal ?? new AbortController().signal };
  let stoppedBy: string | null = null;

  for (const [index, task] of tasks.entries()) {
    const base = { index, type: task.type, ...(task.name !== undefined ? { name: task.name } : {}) };
    const skip = (message: string) => results.push({ ...base, lastResult: { at: Date.now(), outcome: "skipped", message } });
    if (stoppedBy) {
      skip(`not run: ${stoppedBy}`);
      continue;
    }
    if (run.signal.aborted) {
      skip("not run: the deployment was cancelled");
      continue;
    }
    if (!triggerMatches(task.trigger, outcome)) {
      skip(`${TRIGGER_SKIP}"${task.trigger ?? "success"}" does not match outcome "${outcome}"`);
      continue;
    }
    const result = await runWithRetries(task, run, base);
    results.push(result);
    ctx.log(`deploy ${cert?.id ?? "-"} task ${index + 1} (${label(task)}): ${result.lastResult.outcome}: ${result.lastResult.message}`);
    if (result.lastResult.outcome === "failed" && !task.continueOnError) stoppedBy = `task ${index + 1} (${label(task)}) failed`;
  }
  return results;
}

/**
 * The per-task "last result" to store after a run: a task this run skipped only because its
 * trigger did not match keeps its previous result (a failure-only webhook keeps showing when it
 * last fired, not "skipped" after every successful renewal). Results are matched by index and
 * type; a changed task list simply takes the new results.
 */
export function mergeTaskResults(previous: TaskResult[] | null | undefined, current: TaskResult[]): TaskResult[] {
  return current.map((r) => {
    const old = previous?.find((p) => p.index === r.index && p.type === r.type);
    const withTest = old?.lastTest ? { ...r, lastTest: old.lastTest } : r;
    if (r.lastResult.outcome !== "skipped" || !r.lastResult.message.startsWith(TRIGGER_SKIP)) return withTest;
    return old?.lastResult ? { ...withTest, lastResult: old.lastResult } : withTest;
  });
}

/**
 * "Test task": runs the task at `index` alone with `cert`, whatever its trigger (like "Deploy
 * now"), and returns its result with the task's real index.
 */
export async function runOneTask(tasks: DeploymentTask[], index: number, cert: DeployableCertificate | null, ctx: DeployContext): Promise<TaskResult> {
  const task = tasks[index];
  if (!task) throw new Error(`no deployment task ${index} (this certificate has ${tasks.length} here; the definition may not have synced yet)`);
  const [result] = await runDeployments([task], cert, "manual", ctx);
  return { ...result, index };
}

/** Stores a test result beside the task's deployment result (previous results kept). */
export function withTestResult(previous: TaskResult[] | null | undefined, test: TaskResult): TaskResult[] {
  const list = (previous ?? []).filter((p) => p.index !== test.index || p.type === test.type);
  const old = list.find((p) => p.index === test.index);
  const entry: TaskResult = { index: test.index, type: test.type, ...(test.name !== undefined ? { name: test.name } : {}), lastResult: (old?.lastResult ?? null) as TaskResult["lastResult"], lastTest: test.lastResult };
  return [...list.filter((p) => p.index !== test.index), entry].sort((a, b) => a.index - b.index);
}

async function runWithRetries(task: DeploymentTask, run: TaskRun, base: Omit<TaskResult, "lastResult">): Promise<TaskResult> {
  const attempts = 1 + (task.retries ?? 0);
  const delayMs = (task.retryDelaySeconds ?? DEFAULT_RETRY_DELAY_SECONDS) * 1000;
  const started = Date.now();
  let last: TaskResult["lastResult"] | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      run.ctx.log(`deploy task ${base.index + 1} (${label(task)}) failed, retry ${attempt - 1}/${attempts - 1} in ${delayMs / 1000}s`);
      if (!(await abortableSleep(delayMs, run.signal))) break;
    }
    const at = Date.now();
    try {
      const out = await runTask(task, run);
      return { ...base, lastResult: finish(at, started, "succeeded", out.message, out.output) };
    } catch (e) {
      if (e instanceof TaskSkipped) return { ...base, lastResult: finish(at, started, "skipped", e.message) };
      const msg = e instanceof Error ? e.message : String(e);
      const suffix = attempts > 1 ? ` (attempt ${attempt} of ${attempts})` : "";
      last = finish(at, started, "failed", msg + suffix, e instanceof TaskError ? e.output : undefined);
      if (run.signal.aborted) break;
    }
  }
  return { ...base, lastResult: last ?? finish(Date.now(), started, "failed", "cancelled before it ran") };
}

function finish(at: number, started: number, outcome: TaskResult["lastResult"]["outcome"], message: string, output?: string): TaskResult["lastResult"] {
  const r: TaskResult["lastResult"] = { at, outcome, message: message.slice(0, MESSAGE_LIMIT), ms: Date.now() - started };
  if (output) r.output = tail(output, OUTPUT_LIMIT);
  return r;
}

function runTask(task: DeploymentTask, run: TaskRun): Promise<TaskOutput> {
  switch (task.type) {
    case "pem":
      return deployPem(task, run);
    case "pfx":
      return deployPfx(task, run);
    case "script":
      return runScriptTask(task, run);
    case "service":
      return runServiceTask(task, run);
    case "webhook":
      return sendWebhook(task, run);
    case "wait":
      return runWaitTask(task, run);
    default: {
      const unknown: { type?: unknown } = task;
      return Promise.reject(new TaskError(`unknown task type ${JSON.stringify(unknown.type)} (this agent is older than the hub?)`));
    }
  }
}

function label(task: DeploymentTask): string {
  if (task.type === "service") return `service ${task.name}`;
  return task.name ? `${task.type} "${task.name}"` : task.type;
}
