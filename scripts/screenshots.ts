// Screenshots of the admin pages for the README and the issue notes: Dashboard, Instances,
// an instance page and API Access at 1366 px and 420 px width, with one joined agent.
// Runs the hub and the agent from the source tree given (default: this one), so the same
// script photographs an older checkout for before/after:
//   bun scripts/screenshots.ts [--root DIR] [--out docs/screenshots] [--suffix after]
// Needs /usr/bin/chromium (apt-get install -y chromium). Everything stays on 127.0.0.1.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const root = resolve(opt("root", resolve(import.meta.dir, "..")));
const out = resolve(opt("out", resolve(import.meta.dir, "../docs/screenshots")));
const suffix = opt("suffix", "after");
const PASSWORD = "screenshot-admin-pw";
const bun = process.execPath;

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

async function until(what: string, fn: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await Bun.sleep(100);
  }
  throw new Error(`timed out: ${what}`);
}

const procs: ReturnType<typeof Bun.spawn>[] = [];
try {
  const tmp = mkdtempSync(join(tmpdir(), "certhub-shots-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, CERTHUB_ADMIN_PASSWORD: PASSWORD, CERTHUB_SYNC_INTERVAL_SECONDS: "5" };
  procs.push(Bun.spawn([bun, join(root, "src/main.ts"), "serve", "--http", "--listen", `127.0.0.1:${port}`, "--data-dir", join(tmp, "hub")], { cwd: root, env, stdout: "ignore", stderr: "inherit" }));
  await until("hub", async () => (await fetch(`${url}/healthz`)).ok);

  const basic = `Basic ${btoa(`admin:${PASSWORD}`)}`;
  // Sign in for a session cookie (the API also takes the session).
  const login = await fetch(`${url}/login`, { method: "POST", body: new URLSearchParams({ username: "admin", password: PASSWORD }), redirect: "manual" });
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
  void basic;
  const page0 = await (await fetch(`${url}/settings/api-access`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page0)?.[1] ?? "";
  const keyRes = await fetch(`${url}/api/v1/tokens`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json", "x-csrf-token": csrf, origin: url },
    body: JSON.stringify({ title: "Web servers (production)", group: "web" }),
  });
  const key = (await keyRes.json()) as { clientId: string; secret: string };
  if (!key.secret) throw new Error(`could not create a joining key: ${JSON.stringify(key)}`);
  writeFileSync(join(tmp, "secret"), key.secret, { mode: 0o600 });
  const agentPort = await freePort();
  procs.push(
    Bun.spawn([bun, join(root, "src/main.ts"), "--agent", "--data-dir", join(tmp, "agent"), "--listen", `127.0.0.1:${agentPort}`, "--join", url, "--client-id", key.clientId, "--secret-file", join(tmp, "secret")], {
      cwd: root,
      env,
      stdout: "ignore",
      stderr: "ignore",
    }),
  );
  let instanceId = "";
  await until("agent joined", async () => {
    const list = (await (await fetch(`${url}/api/v1/instances`, { headers: { cookie } })).json()) as { id: string; status: string }[] | { items: { id: string; status: string }[] };
    const rows = Array.isArray(list) ? list : list.items;
    instanceId = rows[0]?.id ?? "";
    return rows[0]?.status === "online";
  });

  mkdirSync(out, { recursive: true });
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  const context = await browser.newContext();
  await context.route(/^(?!https?:\/\/127\.0\.0\.1[:/])/, (r) => r.abort());
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.fill("input[name=username]", "admin");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(`${url}/`);
  const shots = [
    ["dashboard", "/"],
    ["instances", "/instances"],
    ["instance", `/instances/${instanceId}`],
    ["api-access", "/settings/api-access"],
  ] as const;
  for (const width of [1366, 420]) {
    await page.setViewportSize({ width, height: width > 1000 ? 900 : 900 });
    for (const [name, path] of shots) {
      await page.goto(`${url}${path}`);
      await page.waitForLoadState("load");
      const file = join(out, `${name}-${width}-${suffix}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(file);
    }
  }
  await browser.close();
} finally {
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => p.exited));
}
