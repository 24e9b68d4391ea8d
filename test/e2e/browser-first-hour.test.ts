// "The first hour as an admin" (issue 12) in a real Chromium (playwright-core) against an
// in-process hub with a real agent joined: the navigation folds behind Menu at 420 px and
// still works, no page scrolls sideways (tables scroll in their box, join commands wrap),
// the command form keeps what was typed after an error and the command then runs, words
// put in the URL are not shown, and reinstate shows "waiting" until the agent is back —
// then online without a reload. No console error or CSP violation on the way.
// npm test installs chromium as root; elsewhere this file skips with a message.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BrowserContext, Page } from "playwright-core";
import { Agent } from "../../src/agent/agent";
import { tempDir } from "../helpers";
import { haveChromium, openBrowser, signInAsAdmin, warnIfNoChromium } from "../helpers/browser";
import { signIn, startTestHub, type TestHub } from "../helpers/session";

warnIfNoChromium("browser tests");

describe.skipIf(!haveChromium)("the first hour in a real browser", () => {
  let hub: TestHub;
  let agent: Agent;
  let instanceId: string;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    const admin = await signIn(hub.url);
    const key = (await (await admin.json("/api/v1/tokens", "POST", { title: "Browser test key with a rather long title that must wrap inside its table cell" })).json()) as { clientId: string; secret: string };
    agent = await Agent.create({ dataDir: tempDir("certhub-agent-"), listen: null, allowScripts: false }, () => {});
    await agent.start();
    instanceId = (await agent.join({ url: hub.url, clientId: key.clientId, secret: key.secret, fingerprint: null })).instanceId;

    // A 422 answer to htmx (a refused form, on purpose) is logged by the browser as a failed resource.
    ({ context, page } = await openBrowser(problems, { ignoreConsoleError: /status of 422/ }));
    page.on("dialog", (d) => void d.accept()); // hx-confirm

    await page.goto(`${hub.url}/login`);
    await signInAsAdmin(page, hub.url);
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    await agent?.stop().catch(() => {});
    await hub?.stop();
  });

  async function visit(path: string) {
    const res = await page.goto(`${hub.url}${path}`);
    expect(res?.status(), path).toBe(200);
    await page.waitForLoadState("load");
  }

  test("at 420 px: navigation behind Menu, nothing scrolls sideways, join commands wrap", async () => {
    await page.setViewportSize({ width: 420, height: 800 });
    await visit("/");
    const nav = page.locator("#main-nav");
    expect(await nav.isVisible()).toBe(false);
    await page.getByRole("button", { name: "Menu" }).click();
    expect(await nav.isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Menu" }).getAttribute("aria-expanded")).toBe("true");
    await nav.getByRole("link", { name: "Instances" }).click();
    await page.waitForURL(`${hub.url}/instances`);

    for (const path of ["/", "/instances", `/instances/${instanceId}`, "/settings/api-access", "/settings/users", "/audit", "/certificates", "/settings"]) {
      await visit(path);
      const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      expect(scroll, `${path} scrolls sideways`).toBeLessThanOrEqual(width);
    }
    // The token table is wider than the screen: it scrolls inside its own box.
    await visit("/settings/api-access");
    const table = await page.evaluate(() => {
      const box = (document.querySelector("#tokens") as HTMLElement).parentElement!;
      return { overflowX: getComputedStyle(box).overflowX, fits: box.getBoundingClientRect().right <= window.innerWidth, scrolls: box.scrollWidth > box.clientWidth };
    });
    expect(table).toEqual({ overflowX: "auto", fits: true, scrolls: true });

    // The join commands (dashboard, "Join another instance") wrap at spaces inside their box.
    await visit("/");
    await page.locator("details#join > summary").click();
    const pre = await page.evaluate(() => {
      const p = document.querySelector("#join-curl") as HTMLElement;
      return { fits: p.scrollWidth <= p.clientWidth, wordBreak: getComputedStyle(p).wordBreak, lines: Math.floor(p.getBoundingClientRect().height / (parseFloat(getComputedStyle(p).fontSize) * 1.3)) };
    });
    expect(pre.fits).toBe(true);
    expect(pre.wordBreak).toBe("normal");
    expect(pre.lines).toBeGreaterThan(1);

    await page.setViewportSize({ width: 1366, height: 900 });
    // The long key title wraps inside its cell: the table stays within the page's column.
    await visit("/settings/api-access");
    const wide = await page.evaluate(() => {
      const main = document.querySelector("main")!.getBoundingClientRect();
      const t = document.querySelector("#tokens")!.parentElement!.getBoundingClientRect();
      const cell = [...document.querySelectorAll("#tokens td")].find((td) => td.textContent!.includes("rather long title")) as HTMLElement;
      return { inside: t.right <= main.right + 1, lines: Math.floor(cell.getBoundingClientRect().height / parseFloat(getComputedStyle(cell).fontSize)) };
    });
    expect(wide.inside).toBe(true);
    expect(wide.lines).toBeGreaterThan(1);
    await visit("/");
    expect(await page.getByRole("button", { name: "Menu" }).isVisible()).toBe(false);
    expect(await page.locator("#main-nav").isVisible()).toBe(true);
  }, 60_000);

  test("a command with a mistake keeps what was typed; corrected, it runs on the agent", async () => {
    await page.setViewportSize({ width: 1366, height: 900 });
    await visit(`/instances/${instanceId}`);
    await page.locator("#queue-command > summary").click();
    const options = await page.locator("#queue-command select[name=type] option").allTextContents();
    expect(options).toContain("Check the connection (ping)");
    expect(options).not.toContain("Run a script"); // the agent reported scripts disabled
    await page.selectOption("#queue-command select[name=type]", "update-settings");
    const typed = '{"values": {"renewalDays": 30}';
    await page.fill("#queue-command textarea[name=payload]", typed);
    await page.getByRole("button", { name: "Send command" }).click();
    await page.locator("#queue-command .alert.error").waitFor();
    expect(await page.locator("#queue-command .alert.error").textContent()).toContain("not valid JSON");
    expect(await page.inputValue("#queue-command textarea[name=payload]")).toBe(typed);
    expect(await page.inputValue("#queue-command select[name=type]")).toBe("update-settings");

    await page.fill("#queue-command textarea[name=payload]", `${typed}}`);
    await page.getByRole("button", { name: "Send command" }).click();
    await page.waitForURL(`${hub.url}/instances/${instanceId}`);
    await page.getByText("Queued “Set agent settings (advanced)”").waitFor();
    // The agent runs it; the live area shows the result without a reload.
    await page.locator("#commands .badge.success").waitFor({ timeout: 12_000 });
  }, 30_000);

  test("words put in the URL are not shown as the hub's", async () => {
    await visit(`/instances/${instanceId}?error=${encodeURIComponent("Security alert: call 555-0100")}`);
    expect(await page.getByText("Security alert").count()).toBe(0);
    await visit(`/instances?done=${encodeURIComponent("Security alert: call 555-0100")}`);
    expect(await page.getByText("Security alert").count()).toBe(0);
  });

  test("revoke, then reinstate: 'waiting for the agent' until it is back, then online without a reload", async () => {
    await visit(`/instances/${instanceId}`);
    await page.getByRole("button", { name: "Revoke" }).click();
    await page.getByText("Instance revoked: its next request is refused.").waitFor();
    await page.locator("#instance-facts .badge.revoked").waitFor();
    // Give the agent time to notice (it learns at once through its long-poll).
    const deadline = Date.now() + 5000;
    while (!(await agent.status()).accessRevoked && Date.now() < deadline) await Bun.sleep(50);
    expect((await agent.status()).accessRevoked).toBe(true);

    await page.getByRole("button", { name: "Reinstate" }).click();
    await page.getByText("Instance reinstated.").waitFor();
    await page.locator("#awaiting-reconnect").waitFor();
    expect(await page.locator("#instance-facts .badge").first().textContent()).toBe("offline");
    // The agent re-checks within ~5 s; the live area (every 5 s) then says online.
    await page.locator("#instance-facts .badge.online").waitFor({ timeout: 15_000 });
  }, 30_000);

  test("no console errors or CSP violations", () => {
    expect(problems).toEqual([]);
  });
});
