// Runs a TypeScript script as user `nobody`, the way a non-root agent would see the files.
// The checkout itself may sit under a directory other users cannot enter (CI clones into a
// 0700 temp dir), so neither Bun nor the sources are run from there: the script is bundled
// into one file and run with a copy of Bun, both in a world-readable staging directory.
import { chmodSync, copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

let stage: { dir: string; bun: string } | null = null;

function staging(): { dir: string; bun: string } {
  if (stage && existsSync(stage.bun)) return stage;
  const dir = mkdtempSync(join(tmpdir(), "certhub-as-nobody-"));
  chmodSync(dir, 0o755);
  const bun = join(dir, "bun");
  copyFileSync(process.execPath, bun);
  chmodSync(bun, 0o755);
  stage = { dir, bun };
  return stage;
}

/** Bundles `script` (imports resolved from the checkout) and runs it as nobody:nogroup. */
export async function runAsNobody(script: string, args: string[] = [], env: Record<string, string> = {}) {
  const { dir, bun } = staging();
  const built = await Bun.build({ entrypoints: [script], target: "bun", outdir: mkdtempSync(join(dir, "js-")), naming: `${basename(script, ".ts")}.js` });
  if (!built.success) throw new Error(`bundling ${script} failed: ${built.logs.join("\n")}`);
  const out = built.outputs[0].path;
  Bun.spawnSync(["chmod", "-R", "a+rX", dir]);
  const r = Bun.spawnSync(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", bun, out, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? 1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
