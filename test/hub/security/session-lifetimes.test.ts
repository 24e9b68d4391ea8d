// Session lifetimes come from the hub config (CERTHUB_SESSION_IDLE_SECONDS / _MAX_SECONDS,
// validated at start), not from the environment at import time: a test or the CLI sets them on
// the config it hands to the hub, and nonsense stops the hub with a message naming the variable.
import { afterEach, describe, expect, test } from "bun:test";
import { DEFAULT_SESSION_LIFETIMES, type SessionLifetimes } from "../../../src/db/sessions";
import { resolveHubConfig } from "../../../src/hub/config";
import { createHub, type RunningHub } from "../../../src/hub/server";
import { ADMIN_PASSWORD, ROOT, tempDir } from "../../helpers";
import { login, signIn } from "../../helpers/session";

describe("from the environment", () => {
  test("defaults are 2 h idle and 24 h absolute; the variables set them in seconds", () => {
    expect(resolveHubConfig({}, {}).sessions).toEqual({ idleMs: 2 * 3600_000, absoluteMs: 24 * 3600_000 });
    expect(resolveHubConfig({}, {}).sessions).toEqual(DEFAULT_SESSION_LIFETIMES);
    expect(resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "900", CERTHUB_SESSION_MAX_SECONDS: "28800" }).sessions).toEqual({ idleMs: 900_000, absoluteMs: 28_800_000 });
    expect(resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "" }).sessions.idleMs).toBe(DEFAULT_SESSION_LIFETIMES.idleMs);
  });

  test("nonsense is refused with the variable's name", () => {
    for (const bad of ["2h", "-5", "0", "1.5", "59", " ", "1e9", "abc", "9".repeat(30)]) {
      expect(() => resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: bad })).toThrow(/invalid CERTHUB_SESSION_IDLE_SECONDS .*whole seconds/);
      expect(() => resolveHubConfig({}, { CERTHUB_SESSION_MAX_SECONDS: bad })).toThrow(/invalid CERTHUB_SESSION_MAX_SECONDS/);
    }
  });

  test("an idle time longer than the maximum is refused naming both and their values; the default idle yields to a shorter maximum", () => {
    // Idle equal to the maximum is allowed (the two end a session at the same time).
    expect(resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "3600", CERTHUB_SESSION_MAX_SECONDS: "3600" }).sessions).toEqual({ idleMs: 3_600_000, absoluteMs: 3_600_000 });
    expect(() => resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "7200", CERTHUB_SESSION_MAX_SECONDS: "3600" })).toThrow(
      'invalid CERTHUB_SESSION_IDLE_SECONDS "7200": longer than CERTHUB_SESSION_MAX_SECONDS "3600" (the idle time may not exceed the session maximum',
    );
    expect(() => resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "3601", CERTHUB_SESSION_MAX_SECONDS: "3600" })).toThrow(/CERTHUB_SESSION_IDLE_SECONDS "3601".*CERTHUB_SESSION_MAX_SECONDS "3600"/);
    // An explicit idle time past the default maximum (24 h) would never apply either.
    expect(() => resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "90000" })).toThrow(
      /invalid CERTHUB_SESSION_IDLE_SECONDS "90000": longer than the default maximum 86400 .*--session-max \/ CERTHUB_SESSION_MAX_SECONDS/,
    );
    // Only the maximum given, shorter than the default idle (2 h): idle is the maximum, not a refusal.
    expect(resolveHubConfig({}, { CERTHUB_SESSION_MAX_SECONDS: "3600" }).sessions).toEqual({ idleMs: 3_600_000, absoluteMs: 3_600_000 });
  });

  test("`certhub serve` with a nonsense value stops at start, saying why", async () => {
    const dataDir = tempDir("certhub-session-env-");
    const proc = Bun.spawn([process.execPath, "src/main.ts", "serve", "--http", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
      cwd: ROOT,
      env: { ...process.env, CERTHUB_SESSION_MAX_SECONDS: "one day" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code).not.toBe(0);
    expect(stderr).toContain('invalid CERTHUB_SESSION_MAX_SECONDS "one day"');
  }, 30_000);
});

describe("a hub given short lifetimes in its config", () => {
  let hub: RunningHub | undefined;
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });

  async function start(sessions: SessionLifetimes) {
    const previous = process.env.CERTHUB_ADMIN_PASSWORD;
    process.env.CERTHUB_ADMIN_PASSWORD = ADMIN_PASSWORD;
    try {
      const config = resolveHubConfig({ "data-dir": tempDir("certhub-session-"), listen: "127.0.0.1:0", http: true }, {});
      hub = await createHub({ ...config, sessions });
      return hub;
    } finally {
      if (previous === undefined) delete process.env.CERTHUB_ADMIN_PASSWORD;
      else process.env.CERTHUB_ADMIN_PASSWORD = previous;
    }
  }
  const page = (url: string, cookie: string) => fetch(`${url}/instances`, { headers: { cookie }, redirect: "manual" });

  test("an idle session ends after the configured idle time, while a busy one lives on", async () => {
    const { url } = await start({ idleMs: 1500, absoluteMs: 60_000 });
    const busy = await signIn(url);
    const idle = await signIn(url);
    // Busy: a page every 0.5 s for 3 s (twice the idle time) keeps it alive.
    for (let i = 0; i < 6; i++) {
      expect((await page(url, busy.cookie)).status).toBe(200);
      await Bun.sleep(500);
    }
    expect((await page(url, busy.cookie)).status).toBe(200);
    const gone = await page(url, idle.cookie);
    expect(gone.status).toBe(302);
    expect(gone.headers.get("location")).toStartWith("/login");
  }, 30_000);

  test("the absolute lifetime ends a busy session and sets the cookie's Max-Age", async () => {
    const { url } = await start({ idleMs: 60_000, absoluteMs: 2000 });
    const res = await login(url, "admin", ADMIN_PASSWORD);
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toMatch(/Max-Age=2\b/);
    const s = await signIn(url);
    expect((await page(url, s.cookie)).status).toBe(200);
    await Bun.sleep(1000);
    expect((await page(url, s.cookie)).status).toBe(200);
    await Bun.sleep(1100);
    expect((await page(url, s.cookie)).status).toBe(302);
  }, 30_000);
});
