// Admin commands never create a hub: only `serve` does (issue 12 #1).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "../helpers";

describe("admin CLI where no hub lives", () => {
  for (const args of [["keys", "list"], ["keys", "create", "--title", "x"], ["users", "reset-password", "admin"]]) {
    test(`certhub ${args.join(" ")} refuses and creates nothing`, async () => {
      const cwd = tempDir("cli-nohub-");
      const r = await runCli(args, { cwd, bin: "source" });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`no hub data in ${join(cwd, "certhub-data")}; pass --data-dir or set CERTHUB_DATA_DIR`);
      expect(r.stdout + r.stderr).not.toContain("Secret");
      expect(existsSync(join(cwd, "certhub-data"))).toBe(false);
      expect(readdirSync(cwd)).toEqual([]);
    });
  }

  test("--data-dir naming an empty directory is refused too, leaving it empty", async () => {
    const dir = tempDir("cli-empty-");
    const r = await runCli(["keys", "list", "--data-dir", dir], { bin: "source" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`no hub data in ${dir}`);
    expect(readdirSync(dir)).toEqual([]);
  });
});
