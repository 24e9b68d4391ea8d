// The compiled binary is self-contained: copied alone into an empty folder it prints its
// version and help, and serves the hub with migrations, htmx and CSS embedded.
// npm test builds dist/certhub first (or set CERTHUB_BIN).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { binPath, runCli, startHub, tempDir, type Hub } from "../helpers";

describe("self-contained binary", () => {
  let dir = "";
  let bin = "";

  beforeAll(() => {
    const built = binPath();
    if (!existsSync(built)) throw new Error(`${built} not found: run \`npm run build\` (npm test does it)`);
    dir = tempDir("certhub-bin-");
    bin = join(dir, "certhub");
    copyFileSync(built, bin);
    chmodSync(bin, 0o755);
  });

  test("--version prints certhub <semver>", async () => {
    const r = await runCli(["--version"], { bin, cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^certhub \d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/);
    expect(r.stdout.trim()).toBe(`certhub ${pkg.version}`);
  });

  test("--help lists modes and commands", async () => {
    const r = await runCli(["--help"], { bin, cwd: dir });
    expect(r.code).toBe(0);
    for (const word of ["serve", "--agent", "keys create", "keys list", "keys revoke", "users reset-password", "hub join", "hub leave"]) {
      expect(r.stdout).toContain(word);
    }
  });

  describe("hub from an empty folder", () => {
    let hub: Hub;

    beforeAll(async () => {
      hub = await startHub({ bin, cwd: dir, dataDir: join(tempDir("certhub-bin-data-"), "data") });
      console.log(`binary hub startup: ${hub.readyMs} ms from spawn to first /healthz 200`);
    });
    afterAll(async () => {
      await hub?.stop();
    });

    test("/healthz answers 200", async () => {
      const res = await fetch(`${hub.url}/healthz`);
      expect(res.status).toBe(200);
    });

    test("embedded htmx is served", async () => {
      const res = await fetch(`${hub.url}/static/htmx.min.js`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type") ?? "").toContain("javascript");
      const body = await res.text();
      expect(body).toContain("htmx");
      expect(body.length).toBeGreaterThan(10_000);
    });

    test("login page renders with its CSS", async () => {
      const res = await fetch(`${hub.url}/login`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("<form");
      const links = [...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*>/g)]
        .map((m) => m[0].match(/href="([^"]+)"/)?.[1])
        .filter((h): h is string => !!h && h.startsWith("/"));
      expect(links.length > 0 || html.includes("<style")).toBe(true);
      for (const href of links) {
        const css = await fetch(new URL(href, hub.url));
        expect(css.status).toBe(200);
        expect(css.headers.get("content-type") ?? "").toContain("text/css");
        expect((await css.text()).length).toBeGreaterThan(0);
      }
    });

    test("writes nothing beside itself when --data-dir points elsewhere", () => {
      expect(readdirSync(dir)).toEqual(["certhub"]);
    });
  });
});
