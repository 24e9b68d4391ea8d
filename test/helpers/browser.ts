// A real Chromium (playwright-core) for the browser tests, set up the same way each time:
// loopback-only requests, console errors, uncaught exceptions and CSP violations collected
// into a list the test asserts empty, and the admin sign-in form filled in.
// npm test installs chromium as root; without it the browser tests skip with a warning.
import { existsSync } from "node:fs";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ADMIN_PASSWORD, tempDir } from "./index";

export const CHROMIUM = "/usr/bin/chromium";
export const haveChromium = existsSync(CHROMIUM);

/** Says loudly (once per file) that `what` is skipped because Chromium is missing. */
export function warnIfNoChromium(what: string): void {
  if (!haveChromium) console.warn(`${what} skipped: ${CHROMIUM} is missing (npm test installs it as root: apt-get install -y chromium)`);
}

export interface BrowserOptions {
  /** Console errors whose text matches are expected by the test (e.g. a refused form's 422). */
  ignoreConsoleError?: RegExp;
}

/**
 * Launches headless Chromium in a fresh profile. Every console error, uncaught exception,
 * CSP violation and request beyond 127.0.0.1 is pushed onto `problems` with its page.
 */
export async function openBrowser(problems: string[], options: BrowserOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(tempDir("certhub-chromium-"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Only loopback: anything else is a bug in the page (or a CDN link), and is refused.
  await context.route(/^(?!https?:\/\/127\.0\.0\.1[:/])/, (route) => {
    problems.push(`request beyond loopback: ${route.request().url()}`);
    return route.abort();
  });
  // CSP violations also reach the console, but count them explicitly too.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() !== "error" || options.ignoreConsoleError?.test(m.text())) return;
    problems.push(`${page.url()}: console error: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`${page.url()}: uncaught ${e.message}`));
  page.setDefaultTimeout(10_000);
  return { context, page };
}

/** Fills in the sign-in form already shown on `page` as admin and waits for the dashboard. */
export async function signInAsAdmin(page: Page, hubUrl: string): Promise<void> {
  await page.fill("input[name=username]", "admin");
  await page.fill("input[name=password]", ADMIN_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(`${hubUrl}/`);
}
