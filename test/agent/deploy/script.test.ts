// Script tasks with real processes: refused without the host's opt-in; the documented
// environment (paths written by earlier tasks, domains, serial, expiry, id); arguments reach the
// program verbatim (no shell); exit codes and output tails reported; a timeout kills the whole
// process group, grandchildren included (also ones that ignore SIGTERM).
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDeployments } from "../../../src/agent/deploy";
import { tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";

const ca = makeCa();
const cert = issue(ca, { serialHex: "1f2e3d4c5b", domains: ["app.example.test", "api.example.test"], name: "app" });

function script(body: string): string {
  const file = join(tempDir("certhub-script-"), "hook.sh");
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Running (not dead, not a zombie: PID 1 here does not reap orphans). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe("script task", () => {
  test("refused unless the host allowed scripts, with the reason; the program never runs", async () => {
    const marker = join(tempDir("certhub-script-"), "ran");
    const cmd = script(`touch ${marker}`);
    const [r] = await runDeployments([{ type: "script", command: cmd, trigger: "success" }], cert, "success", context({ allowScripts: false }));
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("scripts are disabled on this host");
    expect(r.lastResult.message).toContain("--allow-scripts");
    expect(existsSync(marker)).toBe(false);
  });

  test("sees the certificate's paths (from the PEM and PFX tasks before it), domains, serial, expiry and id", async () => {
    const dir = tempDir("certhub-script-pem-");
    const envFile = join(tempDir("certhub-script-"), "env.txt");
    const cmd = script(`env | grep ^CERTHUB_ | sort > ${envFile}\ncat "$CERTHUB_CERT_PATH" >> ${envFile}\necho deployed to "$CERTHUB_FULLCHAIN_PATH"`);
    const ctx = context({ allowScripts: true, credentials: new Map([["pw", { id: "pw", type: "password", secret: { password: "p" } }]]) });
    const results = await runDeployments(
      [
        { type: "pem", directory: dir, trigger: "success" },
        { type: "pfx", path: join(dir, "site.pfx"), passwordCredentialId: "pw", encoding: "modern", trigger: "success" },
        { type: "script", command: cmd, trigger: "success" },
      ],
      cert,
      "success",
      ctx,
    );
    expect(results.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const env = readFileSync(envFile, "utf8");
    expect(env).toContain(`CERTHUB_CERT_PATH=${join(dir, "cert.pem")}\n`);
    expect(env).toContain(`CERTHUB_KEY_PATH=${join(dir, "privkey.pem")}\n`);
    expect(env).toContain(`CERTHUB_CHAIN_PATH=${join(dir, "chain.pem")}\n`);
    expect(env).toContain(`CERTHUB_FULLCHAIN_PATH=${join(dir, "fullchain.pem")}\n`);
    expect(env).toContain(`CERTHUB_PFX_PATH=${join(dir, "site.pfx")}\n`);
    expect(env).toContain("CERTHUB_DOMAINS=app.example.test api.example.test\n");
    expect(env).toContain("CERTHUB_SERIAL=1f2e3d4c5b\n");
    expect(env).toContain(`CERTHUB_NOT_AFTER=${new Date(cert.notAfter).toISOString()}\n`);
    expect(env).toContain(`CERTHUB_CERTIFICATE_ID=${cert.id}\n`);
    expect(env).toContain("CERTHUB_OUTCOME=success\n");
    expect(env).toContain(cert.certPem); // the path really holds the new certificate
    expect(results[2].lastResult.output).toContain(`deployed to ${join(dir, "fullchain.pem")}`);
    expect(results[2].lastResult.message).toContain("exited 0");
  });

  test("without a PEM task, no path variables (the pfx path only when a pfx task ran)", async () => {
    const envFile = join(tempDir("certhub-script-"), "env.txt");
    const cmd = script(`env | grep ^CERTHUB_ | sort > ${envFile}`);
    await runDeployments([{ type: "script", command: cmd, trigger: "success" }], cert, "success", context({ allowScripts: true }));
    const env = readFileSync(envFile, "utf8");
    expect(env).not.toContain("CERTHUB_CERT_PATH");
    expect(env).not.toContain("CERTHUB_PFX_PATH");
    expect(env).toContain("CERTHUB_SERIAL=1f2e3d4c5b");
  });

  test("arguments are passed verbatim, never through a shell", async () => {
    const dir = tempDir("certhub-script-");
    const out = join(dir, "args.txt");
    const cmd = script(`for a in "$@"; do printf '%s\\n' "$a"; done > ${out}`);
    const evil = `$(touch ${join(dir, "pwned")}); echo hi`;
    const [r] = await runDeployments([{ type: "script", command: cmd, args: [evil, "two words", "*"], trigger: "success" }], cert, "success", context({ allowScripts: true }));
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(readFileSync(out, "utf8")).toBe(`${evil}\ntwo words\n*\n`);
    expect(existsSync(join(dir, "pwned"))).toBe(false);
  });

  test("a non-zero exit fails the task with the exit code, the last line in the message and the output tail", async () => {
    const cmd = script(`i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo "reload failed: bad config" >&2; exit 3`);
    const [r] = await runDeployments([{ type: "script", command: cmd, trigger: "success" }], cert, "success", context({ allowScripts: true }));
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("exited 3: reload failed: bad config");
    expect(r.lastResult.output!.length).toBeLessThanOrEqual(4000);
    expect(r.lastResult.output).toContain("line 1999");
    expect(r.lastResult.output).not.toContain("line 10\n");
  });

  test("the message names the script's last stderr line even when stdout goes on after it; without stderr, the last output line", async () => {
    // stdout and stderr are separate pipes: their interleaving in the output is not the order
    // the script wrote them, so the error is taken from stderr itself.
    const after = script(`echo "reload failed: bad config" >&2; i=0; while [ $i -lt 500 ]; do echo "progress $i"; i=$((i+1)); done; exit 4`);
    const [r] = await runDeployments([{ type: "script", command: after, trigger: "success" }], cert, "success", context({ allowScripts: true }));
    expect(r.lastResult.message).toContain("exited 4: reload failed: bad config");
    expect(r.lastResult.output).toContain("progress 499");
    const quiet = script(`echo "first"; echo "  nothing to reload  "; echo; exit 5`);
    const [q] = await runDeployments([{ type: "script", command: quiet, trigger: "success" }], cert, "success", context({ allowScripts: true }));
    expect(q.lastResult.message).toContain("exited 5: nothing to reload");
  });

  test("a missing program fails with a clear message", async () => {
    const [r] = await runDeployments([{ type: "script", command: "/nonexistent/certhub-hook", trigger: "success" }], cert, "success", context({ allowScripts: true }));
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("/nonexistent/certhub-hook: cannot start: ENOENT");
  });

  test("timeout kills the whole process group: the script, a background grandchild and one that ignores SIGTERM", async () => {
    const dir = tempDir("certhub-script-");
    const cmd = script(
      [
        `sleep 300 & echo $! > ${dir}/bg.pid`,
        `sh -c 'trap "" TERM; echo $$ > ${dir}/stubborn.pid; while :; do sleep 1; done' &`,
        `echo $$ > ${dir}/main.pid`,
        `echo started`,
        `sleep 300`,
      ].join("\n"),
    );
    const t0 = Date.now();
    const [r] = await runDeployments([{ type: "script", command: cmd, timeoutSeconds: 1, trigger: "success" }], cert, "success", context({ allowScripts: true }));
    const took = Date.now() - t0;
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("timed out after 1s");
    expect(r.lastResult.output).toContain("started");
    expect(took).toBeLessThan(5000);
    const pids = ["bg", "stubborn", "main"].map((n) => Number(readFileSync(join(dir, `${n}.pid`), "utf8")));
    // SIGTERM at 1 s, SIGKILL for the stubborn one 2 s later.
    const deadline = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < deadline) await Bun.sleep(100);
    expect(pids.filter(alive)).toEqual([]);
  }, 15_000);

  test("a script that leaves a daemon running in the background still completes promptly", async () => {
    const dir = tempDir("certhub-script-");
    const cmd = script(`sleep 30 & echo $! > ${dir}/daemon.pid\necho done`);
    const t0 = Date.now();
    const [r] = await runDeployments([{ type: "script", command: cmd, trigger: "success" }], cert, "success", context({ allowScripts: true }));
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(Date.now() - t0).toBeLessThan(3000);
    const pid = Number(readFileSync(join(dir, "daemon.pid"), "utf8"));
    expect(alive(pid)).toBe(true); // a normal exit does not kill what the script started on purpose
    process.kill(pid, "SIGKILL");
  });
});
