// `certhub serve --session-idle/--session-max SECONDS`: the flags beside
// CERTHUB_SESSION_IDLE_SECONDS / _MAX_SECONDS set how long an admin session lives, the flag wins
// over the variable, and a value the rules refuse stops the hub at start naming the flag.
import { createClient } from "@libsql/client";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { resolveHubConfig } from "../../src/hub/config";
import { ADMIN_PASSWORD, runCli, startHub, tempDir } from "../helpers";
import { login } from "../helpers/session";

/** Signs in through the form; the session cookie and its Max-Age in seconds. */
async function signInCookie(url: string): Promise<{ cookie: string; maxAge: number }> {
  const res = await login(url, "admin", ADMIN_PASSWORD);
  expect(res.status).toBe(303);
  const setCookie = res.headers.get("set-cookie") ?? "";
  const maxAge = /Max-Age=(\d+)/i.exec(setCookie);
  if (!maxAge) throw new Error(`no Max-Age on the session cookie: ${setCookie}`);
  return { cookie: setCookie.split(";")[0], maxAge: Number(maxAge[1]) };
}

/** Makes every session in the hub's database look last used `seconds` ago (an admin gone for coffee). */
async function backdateSessions(dataDir: string, seconds: number) {
  const db = createClient({ url: `file:${join(dataDir, "hub.db")}` });
  try {
    const r = await db.execute({ sql: "UPDATE sessions SET last_seen_at = last_seen_at - ?", args: [seconds * 1000] });
    expect(r.rowsAffected).toBe(1);
  } finally {
    db.close();
  }
}

const page = (url: string, cookie: string) => fetch(`${url}/instances`, { headers: { cookie }, redirect: "manual" });

describe("certhub serve --session-idle / --session-max", () => {
  test("the flags set the cookie's Max-Age and the idle sign-out, over the environment", async () => {
    const longEnv = { CERTHUB_SESSION_IDLE_SECONDS: "86400", CERTHUB_SESSION_MAX_SECONDS: "86400" };
    const flagged = tempDir("cli-session-flags-");
    const plain = tempDir("cli-session-env-");
    const [withFlags, envOnly] = await Promise.all([
      startHub({ dataDir: flagged, bin: "source", env: longEnv, args: ["--session-idle", "60", "--session-max", "120"] }),
      startHub({ dataDir: plain, bin: "source", env: longEnv }),
    ]);
    try {
      const a = await signInCookie(withFlags.url);
      const b = await signInCookie(envOnly.url);
      expect(a.maxAge).toBe(120);
      expect(b.maxAge).toBe(86400);
      expect((await page(withFlags.url, a.cookie)).status).toBe(200);

      // 90 s without a request: past --session-idle 60, well inside the variable's 86400.
      await backdateSessions(flagged, 90);
      await backdateSessions(plain, 90);
      const gone = await page(withFlags.url, a.cookie);
      expect(gone.status).toBe(302);
      expect(gone.headers.get("location")).toStartWith("/login");
      expect((await page(envOnly.url, b.cookie)).status).toBe(200);
    } finally {
      await Promise.all([withFlags.stop(), envOnly.stop()]);
    }
  }, 60_000);

  test("a bad value stops the hub at start with a sentence naming the flag", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["--session-idle", "2h"], {}, 'certhub: invalid --session-idle "2h" (expected whole seconds from 60'],
      [["--session-max", "59"], {}, 'certhub: invalid --session-max "59"'],
      [["--session-max", ""], {}, 'certhub: invalid --session-max ""'],
      // The flag is the one read, so a bad flag is refused even beside a good variable.
      [["--session-idle=-5"], { CERTHUB_SESSION_IDLE_SECONDS: "900" }, 'certhub: invalid --session-idle "-5"'],
    ];
    await Promise.all(
      cases.map(async ([args, env, message]) => {
        const r = await runCli(["serve", "--http", "--listen", "127.0.0.1:0", "--data-dir", tempDir("cli-session-bad-"), ...args], { bin: "source", env });
        expect({ args, code: r.code, stderr: r.stderr.trim() }).toMatchObject({ args, code: 1, stderr: expect.stringContaining(message) });
        expect(r.stdout).not.toContain("listening");
      }),
    );
  }, 60_000);

  test("an idle time longer than the maximum stops the hub at start, naming both with their values", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["--session-idle", "7200", "--session-max", "3600"], {}, 'certhub: invalid --session-idle "7200": longer than --session-max "3600" (the idle time may not exceed the session maximum'],
      // Mixed sources: each is named as the hub read it.
      [["--session-idle", "900"], { CERTHUB_SESSION_MAX_SECONDS: "600" }, 'certhub: invalid --session-idle "900": longer than CERTHUB_SESSION_MAX_SECONDS "600"'],
      [["--session-max", "600"], { CERTHUB_SESSION_IDLE_SECONDS: "601" }, 'certhub: invalid CERTHUB_SESSION_IDLE_SECONDS "601": longer than --session-max "600"'],
      [[], { CERTHUB_SESSION_IDLE_SECONDS: "172800" }, 'certhub: invalid CERTHUB_SESSION_IDLE_SECONDS "172800": longer than the default maximum 86400'],
    ];
    await Promise.all(
      cases.map(async ([args, env, message]) => {
        const r = await runCli(["serve", "--http", "--listen", "127.0.0.1:0", "--data-dir", tempDir("cli-session-order-"), ...args], { bin: "source", env });
        expect({ args, code: r.code, stderr: r.stderr.trim() }).toMatchObject({ args, code: 1, stderr: expect.stringContaining(message) });
        expect(r.stdout).not.toContain("listening");
      }),
    );
  }, 60_000);

  test("--session-max alone, shorter than the default idle time, starts: idle and maximum are both that", async () => {
    const dataDir = tempDir("cli-session-max-only-");
    const hub = await startHub({ dataDir, bin: "source", args: ["--session-max", "3600"] });
    try {
      const s = await signInCookie(hub.url);
      expect(s.maxAge).toBe(3600);
      await backdateSessions(dataDir, 3000);
      expect((await page(hub.url, s.cookie)).status).toBe(200);
    } finally {
      await hub.stop();
    }
  }, 60_000);

  test("the flag wins over the variable; each names itself when wrong", () => {
    expect(resolveHubConfig({ "session-idle": "600" }, { CERTHUB_SESSION_IDLE_SECONDS: "900", CERTHUB_SESSION_MAX_SECONDS: "7200" }).sessions).toEqual({ idleMs: 600_000, absoluteMs: 7_200_000 });
    expect(resolveHubConfig({ "session-max": "3600" }, { CERTHUB_SESSION_MAX_SECONDS: "one day" }).sessions.absoluteMs).toBe(3_600_000);
    expect(() => resolveHubConfig({ "session-idle": "1.5" }, {})).toThrow('invalid --session-idle "1.5"');
    expect(() => resolveHubConfig({}, { CERTHUB_SESSION_IDLE_SECONDS: "1.5" })).toThrow('invalid CERTHUB_SESSION_IDLE_SECONDS "1.5"');
  });

  test("certhub serve --help lists both flags with their variables", async () => {
    const r = await runCli(["serve", "--help"], { bin: "source" });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--session-idle SECONDS[^\n]*\n[^\n]*CERTHUB_SESSION_IDLE_SECONDS/);
    expect(r.stdout).toMatch(/--session-max SECONDS[^\n]*\n[^\n]*CERTHUB_SESSION_MAX_SECONDS/);
  });
});
