// A real Chromium (playwright-core) against the compiled binary, with a joined agent, Pebble
// (real validation) and BIND (Pebble resolves every name to 127.0.0.1 through it): an admin
// signs in, adds a global CA account on Settings › Certificate Authorities, defines a
// certificate for the joined instance on New certificate — picking the instance, its CA
// account, HTTP-01 on the agent's own listener and a PEM files task with the task editor, one
// validation error on the way — and sees it on the Certificates page, then valid with Pebble's
// serial on its page. No page may log a console error or a CSP violation.
// npm test installs chromium, pebble and bind9 as root; without chromium this file skips loudly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { binPath, startHub, tempDir, type Hub } from "../helpers";
import { startBind, startPebble, type Bind, type Pebble } from "../helpers/acme-peers";
import { haveChromium, openBrowser, signInAsAdmin, warnIfNoChromium } from "../helpers/browser";
import { startAgent, until, type RunningAgent } from "./agents.fixtures";
import { firstJoiningKey } from "./hub-api.fixtures";

warnIfNoChromium("browser certificate tests");

describe.skipIf(!haveChromium)("certificates through the pages in a real browser", () => {
  let hub: Hub;
  let pebble: Pebble;
  let bind: Bind;
  let agent: RunningAgent;
  let instanceId: string;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(binPath())) throw new Error(`${binPath()} not found: run \`npm run build\` (npm test does it)`);
    bind = await startBind({ zone: "certhub.test", records: ["* 60 IN A 127.0.0.1", "* 60 IN AAAA ::1"] });
    pebble = await startPebble({ dnsServer: bind.server, env: { PEBBLE_WFE_NONCEREJECT: "0" } });
    hub = await startHub({ dataDir: tempDir("certhub-browser-cert-hub-"), env: { CERTHUB_SYNC_INTERVAL_SECONDS: "5" } });
    const joiningKey = firstJoiningKey(hub);
    agent = await startAgent({ dataDir: tempDir("certhub-browser-cert-agent-") });
    const joined = await agent.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...joiningKey, url: hub.url }) });
    expect(joined.status).toBe(200);
    instanceId = (await until("agent joined", async () => {
      const st = await agent.status();
      return st.status === "connected" && st.instanceId ? st : null;
    }, 15_000)).instanceId;

    ({ context, page } = await openBrowser(problems));
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await agent?.stop().catch(() => {});
    await hub?.stop();
    await pebble?.stop();
    await bind?.stop();
  });

  async function visit(p: string) {
    const res = await page.goto(`${hub.url}${p}`);
    expect(res?.status(), p).toBe(200);
    await page.waitForLoadState("load");
    expect(await page.locator("head style").count(), p).toBe(0);
  }

  test(
    "a global CA account and a certificate for a joined instance, through the pages alone, issued by Pebble",
    async () => {
      await visit("/login");
      await signInAsAdmin(page, hub.url);

      // Before anything exists the Certificates page says what to do.
      await visit("/certificates");
      await page.getByText("No certificates yet.").waitFor();
      for (const p of ["/settings", "/settings/credentials", "/settings/external-managers", `/settings?scope=instance&instance=${instanceId}`, `/instances/${instanceId}`]) await visit(p);

      // The scope picker: choosing the instance reloads the page for it (URL kept in step).
      await visit("/settings");
      await page.locator("#scope-picker input[name=scope][value=instance]").check();
      await page.waitForURL(/scope=instance/);
      await page.getByText("Showing settings for instance").waitFor();
      expect(await page.locator(".subnav a", { hasText: "Stored Credentials" }).getAttribute("href")).toBe(`/settings/credentials?scope=instance&instance=${instanceId}`);
      await page.locator("#scope-picker input[name=scope][value=global]").check();
      await page.waitForURL(/\/settings\?scope=global/);
      await page.getByText("Showing settings for All instances").waitFor();

      // Settings › Stored Credentials: only the chosen type's secret fields show; the secret never comes back.
      await page.getByRole("link", { name: "Stored Credentials" }).click();
      await page.waitForURL(`${hub.url}/settings/credentials`);
      const cred = page.locator("form.credential-form");
      await cred.locator("input[name=title]").fill("PFX password");
      await cred.locator("input[name=type][value=password]").check();
      await cred.locator("input[name='secret.tsig.secret']").waitFor({ state: "hidden" });
      await cred.locator("input[name='secret.password.password']").fill("browser-secret-pw-77");
      await cred.getByRole("button", { name: "Store credential" }).click();
      await page.waitForURL(/\/settings\/credentials\?done=created$/);
      await page.locator("table.credentials tr", { hasText: "PFX password" }).waitFor();
      expect(await page.content()).not.toContain("browser-secret-pw-77");

      // Settings › Certificate Authorities: a custom directory (Pebble) for All instances.
      await visit("/settings");
      await page.getByRole("link", { name: "Certificate Authorities" }).click();
      await page.waitForURL(`${hub.url}/settings/ca-accounts`);
      const ca = page.locator("form.ca-form");
      await ca.locator("select[name=preset]").selectOption("custom");
      await ca.locator("input[name=directoryUrl]").waitFor({ state: "visible" }); // shown for a custom URL only
      await ca.locator("input[name=title]").fill("Pebble");
      await ca.locator("input[name=directoryUrl]").fill(pebble.directoryUrl);
      await ca.locator("input[name=email]").fill("ops@example.com");
      await ca.locator("textarea[name=trustedRootsPem]").fill(pebble.caPem);
      await ca.getByRole("button", { name: "Add CA account" }).click();
      await page.waitForURL(/\/settings\/ca-accounts\?done=created$/);
      await page.locator("table.ca-accounts tr", { hasText: "Pebble" }).waitFor();

      // New certificate, from the empty Certificates page's link.
      await visit("/certificates");
      await page.getByRole("link", { name: "define a new certificate" }).click();
      await page.waitForURL(`${hub.url}/certificates/new`);
      const form = () => page.locator("form.cert-form");
      await form().locator("select[name=instanceId]").selectOption(instanceId);
      // The form re-renders for the instance: its CA accounts appear.
      await form().locator("select[name=caAccountId] option", { hasText: "Pebble" }).waitFor({ state: "attached" });
      await form().locator("select[name=caAccountId]").selectOption({ label: "Pebble (all instances)" });
      await form().locator("input[name=name]").fill("browser site");
      // Submitting without domains: the error shows beside the field, nothing else is lost.
      await form().getByRole("button", { name: "Create certificate" }).click();
      await page.getByText("Enter at least one domain.").waitFor();
      expect(await form().locator("input[name=name]").inputValue()).toBe("browser site");
      problems.splice(0); // Chromium logs the 422 as a failed resource load; expected here
      await form().locator("textarea[name=domains]").fill("browser-1.certhub.test\nwww.browser-1.certhub.test");
      expect(await form().locator("input[name='challenge.kind'][value=http-standalone]").isChecked()).toBe(true);
      await form().locator("input[name='challenge.webroot']").waitFor({ state: "hidden" }); // other kinds' fields stay hidden
      await form().locator("input[name='challenge.port']").fill(String(pebble.httpPort));
      // Task editor: add a PEM files task.
      const pemDir = path.join(tempDir("certhub-browser-pem-"), "site");
      mkdirSync(pemDir);
      await form().locator("select[name=newTaskType]").selectOption("pem");
      await form().getByRole("button", { name: "Add task" }).click();
      await form().locator("input[name='deployments.0.directory']").fill(pemDir);
      expect(await form().locator("textarea[name=domains]").inputValue()).toContain("www.browser-1.certhub.test"); // kept across the re-render
      await form().getByRole("button", { name: "Create certificate" }).click();
      await page.waitForURL(/\/certificates\/mc_[a-z0-9]+\?done=created$/);
      const certId = /\/certificates\/(mc_[a-z0-9]+)/.exec(page.url())![1];
      await page.getByText("Certificate defined.").waitFor();

      // On the Certificates page at once (pending), and valid once the agent got it from Pebble.
      await visit("/certificates");
      const row = page.locator(`tr[data-certificate-id="${certId}"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain("browser site");
      expect(await row.textContent()).toContain("certhub (managed)");
      await until(
        "certificate valid on the Certificates page",
        async () => {
          await page.reload();
          return (await row.locator(".badge.valid").count()) > 0;
        },
        60_000,
        1000,
      ).catch((err) => {
        throw new Error(`${err.message}\n${agent.output().slice(-4000)}`);
      });
      expect(await page.locator('[data-health="healthy"] .value').textContent()).toBe("1");

      // Its page: Pebble's serial, the PEM task's result, the actions.
      await row.getByRole("link", { name: "browser site" }).click();
      await page.waitForURL(`${hub.url}/certificates/${certId}`);
      const certPem = await until("PEM files deployed", async () => (existsSync(path.join(pemDir, "cert.pem")) ? readFileSync(path.join(pemDir, "cert.pem"), "utf8") : null), 20_000);
      const serial = new X509Certificate(certPem).serialNumber.toLowerCase().replace(/^0+/, "");
      const facts = await page.locator("#certificate-status").textContent();
      expect(facts!.replace(/^0+/, "")).toContain(serial);
      expect(facts).toMatch(/Pebble/i);
      for (const name of ["Renew now", "Test", "Deploy now", "Delete"]) await page.getByRole("button", { name, exact: true }).waitFor();
      await page.getByRole("link", { name: "Edit" }).waitFor();

      // Renew now asks to confirm nothing, queues, and says so.
      await page.getByRole("button", { name: "Renew now" }).click();
      await page.waitForURL(/\?done=renew$/);
      await page.getByText("Renewal queued").waitFor();

      // The instance page lists it too.
      await visit(`/instances/${instanceId}`);
      await page.locator(`#instance-certificates tr[data-certificate-id="${certId}"]`).waitFor();

      expect(problems).toEqual([]);
    },
    150_000,
  );
});
