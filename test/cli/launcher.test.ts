// `npx certhub …` works from a source checkout (issue 12 #2): package.json declares a bin.
import { expect, test } from "bun:test";
import { join } from "node:path";
import pkg from "../../package.json";

const ROOT = join(import.meta.dir, "../..");

test("npx certhub --version runs the source with the project's Bun", async () => {
  const proc = Bun.spawn(["npx", "--no-install", "certhub", "--version"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  expect(out.trim()).toBe(`certhub ${pkg.version}`);
});

test("the launcher passes arguments and exit codes through", async () => {
  const proc = Bun.spawn(["node", join(ROOT, "scripts/certhub.mjs"), "no-such-command"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(2);
  expect(err).toContain('unknown command "no-such-command"');
});
