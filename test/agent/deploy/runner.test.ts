// The task runner: which tasks an outcome runs (triggers), order, stop-on-failure versus
// continueOnError, retries with their delay, tasks that need a certificate when there is none,
// cancellation, and that a failure is a result, never an exception.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DeploymentTask } from "../../../src/protocol/certificates";
import { DeploymentResultSchema, DeploymentTaskSchema } from "../../../src/protocol/certificates";
import { mergeTaskResults, runDeployments, triggerMatches } from "../../../src/agent/deploy";
import { tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";

const ca = makeCa();
const cert = issue(ca, { serialHex: "77", domains: ["run.example.test"] });
const parse = (t: unknown): DeploymentTask => DeploymentTaskSchema.parse(t);

describe("runDeployments", () => {
  test("triggers: success runs success+always, failure runs failure+always, manual runs everything", async () => {
    const tasks = ["success", "failure", "always", "manual"].map((trigger) => parse({ type: "wait", seconds: 1, trigger, name: trigger }));
    expect(tasks.map((t) => [triggerMatches(t.trigger, "success"), triggerMatches(t.trigger, "failure"), triggerMatches(t.trigger, "manual")])).toEqual([
      [true, false, true],
      [false, true, true],
      [true, true, true],
      [false, false, true],
    ]);
    // default trigger is "success"
    expect(parse({ type: "wait", seconds: 1 }).trigger).toBe("success");
    const dirs = ["success", "failure", "always", "manual"].map(() => tempDir("certhub-trig-"));
    const pemTasks = dirs.map((directory, i) => parse({ type: "pem", directory, trigger: ["success", "failure", "always", "manual"][i] }));
    const onSuccess = await runDeployments(pemTasks, cert, "success", context());
    expect(onSuccess.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "skipped", "succeeded", "skipped"]);
    expect(onSuccess[1].lastResult.message).toContain('trigger "failure" does not match outcome "success"');
    expect(dirs.map((d) => existsSync(join(d, "cert.pem")))).toEqual([true, false, true, false]);
    const onFailure = await runDeployments(pemTasks, cert, "failure", context());
    expect(onFailure.map((r) => r.lastResult.outcome)).toEqual(["skipped", "succeeded", "succeeded", "skipped"]);
    const manual = await runDeployments(pemTasks, cert, "manual", context());
    expect(manual.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  test("a failing task stops the rest (reported skipped) unless it has continueOnError", async () => {
    const base = tempDir("certhub-stop-");
    const good = tempDir("certhub-stop-");
    const broken = parse({ type: "pem", directory: join(base, "missing"), name: "broken" });
    const after = parse({ type: "pem", directory: good });
    const stopped = await runDeployments([broken, after], cert, "success", context());
    expect(stopped.map((r) => r.lastResult.outcome)).toEqual(["failed", "skipped"]);
    expect(stopped[1].lastResult.message).toBe('not run: task 1 (pem "broken") failed');
    expect(existsSync(join(good, "cert.pem"))).toBe(false);

    const continued = await runDeployments([{ ...broken, continueOnError: true }, after], cert, "success", context());
    expect(continued.map((r) => r.lastResult.outcome)).toEqual(["failed", "succeeded"]);
    expect(existsSync(join(good, "cert.pem"))).toBe(true);
    // every result fits the wire schema the hub validates
    for (const r of [...stopped, ...continued]) expect(DeploymentResultSchema.safeParse(r).success).toBe(true);
    expect(continued[0]).toMatchObject({ index: 0, type: "pem", name: "broken" });
    expect(continued[1].lastResult.ms).toBeGreaterThanOrEqual(0);
  });

  test("retries wait retryDelaySeconds between attempts and stop at the first success", async () => {
    const dir = tempDir("certhub-retry-");
    const counter = join(dir, "count");
    const script = join(dir, "flaky.sh");
    // fails twice, then succeeds
    await Bun.write(script, `#!/bin/sh\nn=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 3 ]\n`);
    Bun.spawnSync(["chmod", "755", script]);
    const t0 = Date.now();
    const [r] = await runDeployments([parse({ type: "script", command: script, retries: 5, retryDelaySeconds: 1 })], cert, "success", context({ allowScripts: true }));
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(readFileSync(counter, "utf8").trim()).toBe("3");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000); // two 1 s delays
    expect(r.lastResult.ms).toBeGreaterThanOrEqual(2000); // duration covers all attempts
  });

  test("with no certificate (first order failed), file tasks are skipped and the rest still run", async () => {
    const dir = tempDir("certhub-nocert-");
    const results = await runDeployments([parse({ type: "pem", directory: dir, trigger: "always" }), parse({ type: "wait", seconds: 1, trigger: "failure" })], null, "failure", context());
    expect(results.map((r) => r.lastResult.outcome)).toEqual(["skipped", "succeeded"]);
    expect(results[0].lastResult.message).toBe("no certificate to deploy yet");
  });

  test("cancellation: an abort during a wait fails that task and skips the rest; nothing throws", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    const results = await runDeployments([parse({ type: "wait", seconds: 60 }), parse({ type: "wait", seconds: 60 })], cert, "success", context({ signal: ac.signal }));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(results.map((r) => r.lastResult.outcome)).toEqual(["failed", "skipped"]);
    expect(results[0].lastResult.message).toContain("cancelled");
  });

  test("a task the agent does not know (hub newer than agent) fails with a message instead of throwing", async () => {
    const results = await runDeployments([{ type: "teleport" } as unknown as DeploymentTask], cert, "success", context());
    expect(results[0].lastResult.outcome).toBe("failed");
    expect(results[0].lastResult.message).toContain('unknown task type "teleport"');
  });

  test("the log names each task and its outcome, never the key", async () => {
    const ctx = context();
    await runDeployments([parse({ type: "pem", directory: tempDir("certhub-log-") })], cert, "success", ctx);
    expect(ctx.lines.join("\n")).toContain("task 1 (pem): succeeded");
    expect(ctx.lines.join("\n")).not.toContain("PRIVATE KEY");
  });

  test("mergeTaskResults: a trigger-skipped task keeps its last real result; other outcomes replace it", async () => {
    const tasks = [parse({ type: "wait", seconds: 1, trigger: "failure" }), parse({ type: "pem", directory: tempDir("certhub-merge-") })];
    const onFailure = await runDeployments(tasks, cert, "failure", context());
    expect(onFailure.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "skipped"]);
    const onSuccess = await runDeployments(tasks, cert, "success", context());
    const merged = mergeTaskResults(onFailure, onSuccess);
    expect(merged[0].lastResult).toEqual(onFailure[0].lastResult); // the failure hook's last firing
    expect(merged[1].lastResult.outcome).toBe("succeeded");
    expect(mergeTaskResults(null, onSuccess)[0].lastResult.outcome).toBe("skipped");
  });
});
