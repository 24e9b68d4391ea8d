// Security review #13: signed-in answers must not stay in caches after sign-out.
//  - every response to a signed-in request (pages, fragments, API by session or Basic) carries
//    Cache-Control: no-store; static assets keep their public caching;
//  - in a real Chromium, after sign-out the tab's sessionStorage holds no htmx page snapshot.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { ADMIN_PASSWORD, tempDir } from "../../helpers";
import { basicAuth } from "../../helpers/session";
import { useSignedInHub } from "../../helpers/hub-fixture";

const CHROMIUM = "/usr/bin/chromium";

const fx = useSignedInHub();

test("every signed-in page, fragment and API answer is Cache-Control: no-store", async () => {
  const paths = ["/", "/instances", "/instances/table", "/certificates", "/settings", "/settings/users", "/settings/api-access", "/audit", "/account", "/api/v1/me", "/api/v1/instances", "/api/v1/tokens", "/api/v1/audit", "/instances/nope"];
  for (const path of paths) {
    const res = await fx.admin.fetch(path, { headers: path.endsWith("/table") ? { "hx-request": "true" } : {} });
    await res.arrayBuffer();
    expect(res.status, path).toBeLessThan(500);
    expect(res.headers.get("cache-control"), path).toBe("no-store");
  }
  // A state-changing answer and the sign-out itself.
  const post = await fx.admin.fetch("/dashboard/joining-key", { method: "POST", headers: { "hx-request": "true" } });
  expect(post.headers.get("cache-control")).toBe("no-store");
});

test("API answers to HTTP Basic are no-store too", async () => {
  const made = await fx.admin.json("/api/v1/tokens", "POST", { title: "script", role: "administrator" });
  expect(made.status).toBe(201);
  const c = (await made.json()) as { clientId: string; secret: string };
  const res = await fetch(`${fx.hub.url}/api/v1/instances`, { headers: basicAuth(c.clientId, c.secret) });
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
});

test("static assets stay cacheable; the sign-in page for a stranger is not affected", async () => {
  const js = await fx.admin.fetch("/static/app.js");
  expect(js.headers.get("cache-control")).toBe("public, max-age=300");
  const login = await fetch(`${fx.hub.url}/login`);
  expect(login.status).toBe(200);
});

describe.skipIf(!existsSync(CHROMIUM))("in Chromium", () => {
  test(
    "after sign-out the tab's sessionStorage holds no htmx history snapshot, and Back shows no admin page",
    async () => {
      const context = await chromium.launchPersistentContext(tempDir("certhub-chromium-"), {
        executablePath: CHROMIUM,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      try {
        await context.route(/^(?!https?:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
        const page = context.pages()[0] ?? (await context.newPage());
        page.setDefaultTimeout(10_000);
        await page.goto(`${fx.hub.url}/login`);
        await page.fill("input[name=username]", "admin");
        await page.fill("input[name=password]", ADMIN_PASSWORD);
        await page.click("button[type=submit]");
        await page.waitForURL(`${fx.hub.url}/`);
        // Filter the audit log: htmx swaps the table and pushes the URL, which is when it
        // snapshots the previous page into sessionStorage.
        await page.goto(`${fx.hub.url}/audit`);
        await page.locator("input[name=q]").fill("login");
        await page.locator("input[name=q]").press("Enter");
        await page.waitForURL(/\/audit\?q=login/);
        await page.getByRole("link", { name: "Clear the filter" }).count(); // settle
        await page.waitForTimeout(300);
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.waitForURL(`${fx.hub.url}/login`);
        const cached = await page.evaluate(() => [sessionStorage.getItem("htmx-history-cache"), localStorage.getItem("htmx-history-cache")]);
        expect(cached).toEqual([null, null]);
        // Back: the browser must ask the hub again (no-store), which sends it to sign in.
        await page.goBack();
        await page.waitForLoadState("load");
        expect(page.url()).toContain("/login");
        expect(await page.locator("h1", { hasText: "Audit Log" }).count()).toBe(0);
      } finally {
        await context.close();
      }
    },
    60_000,
  );
});
if (!existsSync(CHROMIUM)) test("Chromium is installed for the sign-out storage check", () => expect(`${CHROMIUM} missing`).toBe("present"));
