// The scoped Settings pages against an in-process hub: the scope picker (All instances, a
// group, one instance) kept in the query string and the sub-navigation; General (set, clear,
// inherited value and origin, invalid values refused); Certificate Authorities (presets,
// EAB write-only, validation, delete refused while used); Stored Credentials (never the secret,
// replace, delete refused while used); External Certificate Managers (reaching the agent);
// a Read-only Viewer sees everything but changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Session } from "../../../helpers/session";
import type { FakeAgent } from "../../agent-api.fixtures";
import { addInstance, call, startWorld, syncConfig, type World } from "../../core/fixtures";
import { SETTING_KEYS, SETTINGS } from "../../../../src/protocol/settings";
import { count, page, post, readOnlyViewer, text } from "./helpers";

let w: World;
let viewer: Session;
let web1: FakeAgent;
let web2: FakeAgent;
let other: FakeAgent;

beforeAll(async () => {
  w = await startWorld();
  viewer = await readOnlyViewer(w.hub, w.admin);
  web1 = await addInstance(w, { group: "web", hostname: "web-1.example.test" });
  web2 = await addInstance(w, { group: "web", hostname: "web-2.example.test" });
  other = await addInstance(w, { group: null, hostname: "lonely.example.test" });
});
afterAll(() => w.hub.stop());

const effective = async (a: FakeAgent) => (await call(w.admin, "GET", `/api/v1/instances/${a.instanceId}/settings`)).body as { key: string; value: unknown; scope: string; scopeId?: string }[];
const valueOf = async (a: FakeAgent, key: string) => (await effective(a)).find((s) => s.key === key)!;

describe("scope picker and navigation", () => {
  test("every settings page offers All instances, the groups and the instances; the scope stays in the links", async () => {
    for (const p of ["/settings", "/settings/ca-accounts", "/settings/credentials", "/settings/external-managers"]) {
      const html = await page(w.admin, `${p}?scope=group&group=web`);
      expect(html, p).toContain('<option value="web" selected="">web</option>');
      expect(html, p).toContain("Showing settings for <strong>group “web”</strong>");
      // Sub-navigation: scoped pages keep the scope, security pages do not need it.
      expect(html, p).toContain('href="/settings/credentials?scope=group&amp;group=web"');
      expect(html, p).toContain('href="/settings/users"');
      expect(html, p).toContain('<a href="/settings" class="active"'); // top navigation: Settings
    }
    const inst = await page(w.admin, `/settings?instance=${web1.instanceId}`);
    expect(inst).toContain(`<option value="${web1.instanceId}" selected="">web-1.example.test`);
    expect(inst).toContain(`href="/settings/ca-accounts?scope=instance&amp;instance=${web1.instanceId}"`);
    expect(await page(w.admin, "/settings?scope=instance&instance=inst_gone")).toContain("No instance with id inst_gone");
    expect(await page(w.admin, "/settings?scope=group&group=")).toContain("group “web”"); // first group
    expect((await w.admin.fetch("/settings?scope=%00&group=%FF")).status).toBe(200);
  });
});

describe("General", () => {
  test("every registry key has a field; set at All instances, override for one instance, clear back to inherit", async () => {
    const global = await page(w.admin, "/settings");
    for (const key of SETTING_KEYS) {
      expect(global).toContain(SETTINGS[key].label);
      // Each key is a field of its own form, except the managers' map, which has its own page.
      if (key === "externalManagers") expect(global).toContain('href="/settings/external-managers"');
      else expect(global).toContain(`action="/settings/general/${key}"`);
    }
    expect(global).toMatch(/name="value" id="value-renewalLifetimePercent" type="number" min="10" max="95"/);
    expect(text(global)).toContain("Inherited: 67 % from built-in default");

    let res = await post(w.admin, "/settings/general/renewalLifetimePercent", { scope: "global", scopeId: "", value: "60", op: "set" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/settings?done=saved");
    expect(await valueOf(web1, "renewalLifetimePercent")).toMatchObject({ value: 60, scope: "global" });

    const atInstance = text(await page(w.admin, `/settings?instance=${web1.instanceId}`));
    expect(atInstance).toContain("Inherited: 60 % from All instances");

    res = await post(w.admin, "/settings/general/renewalLifetimePercent", { scope: "group", scopeId: "web", value: "70", op: "set" }, { htmx: "setting-renewalLifetimePercent" });
    expect(res.status).toBe(204);
    expect(res.headers.get("hx-redirect")).toBe("/settings?scope=group&group=web&done=saved");
    res = await post(w.admin, "/settings/general/renewalLifetimePercent", { scope: "instance", scopeId: web1.instanceId, value: "80", op: "set" });
    expect(res.status).toBe(303);
    expect(await valueOf(web1, "renewalLifetimePercent")).toMatchObject({ value: 80, scope: "instance" });
    expect(await valueOf(web2, "renewalLifetimePercent")).toMatchObject({ value: 70, scope: "group", scopeId: "web" });
    expect(await valueOf(other, "renewalLifetimePercent")).toMatchObject({ value: 60, scope: "global" });
    // The setting reaches the agent in its config.
    expect((await syncConfig(web1))!.settings.renewalLifetimePercent).toBe(80);

    const scoped = text(await page(w.admin, `/settings?instance=${web1.instanceId}`));
    expect(scoped).toContain("Without it: 70 % (from group “web”)");
    // The instance page shows the origin of each effective value.
    const instPage = await page(w.admin, `/instances/${web1.instanceId}`);
    expect(instPage).toMatch(/data-setting="renewalLifetimePercent"><td>Renew at % of lifetime<\/td><td class="wrap">80 %<\/td><td><span class="badge origin-instance">this instance/);

    res = await post(w.admin, "/settings/general/renewalLifetimePercent", { scope: "instance", scopeId: web1.instanceId, op: "clear" });
    expect(res.status).toBe(303);
    expect(await valueOf(web1, "renewalLifetimePercent")).toMatchObject({ value: 70, scope: "group" });
  });

  test("an invalid value is shown with its error and the typed value, and nothing is written", async () => {
    const before = (await Promise.all(["settings", "ca_accounts", "credentials"].map((t) => count(w.hub, t)))).join();
    const res = await post(w.admin, "/settings/general/renewalLifetimePercent", { scope: "global", scopeId: "", value: "150", op: "set" }, { htmx: "setting-renewalLifetimePercent" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toStartWith('<div class="form-host setting" id="setting-renewalLifetimePercent">');
    expect(html).toMatch(/value="150"/);
    expect(html).toContain("Invalid value for");
    const email = await post(w.admin, "/settings/general/defaultContactEmail", { scope: "global", scopeId: "", value: "not an email", op: "set" });
    expect(email.status).toBe(422);
    expect(await email.text()).toContain("an email address");
    expect((await post(w.admin, "/settings/general/noSuchKey", { scope: "global", value: "1" })).status).toBe(404);
    // A scope that does not exist (any more) never becomes a wider one.
    expect((await post(w.admin, "/settings/general/defaultKeyType", { scope: "instance", scopeId: "inst_gone", value: "rsa-2048" })).status).toBe(422);
    expect((await post(w.admin, "/settings/general/defaultKeyType", { scope: "evil", scopeId: "x", value: "rsa-2048" })).status).toBe(422);
    expect((await post(w.admin, "/settings/general/defaultKeyType", { scope: "group", scopeId: "", value: "rsa-2048" })).status).toBe(422);
    expect((await post(w.admin, "/settings/ca-accounts", { scope: "evil", scopeId: "", preset: "letsencrypt", email: "" })).status).toBe(422);
    expect((await post(w.admin, "/settings/credentials", { scope: "instance", scopeId: "inst_gone", title: "t", type: "password", "secret.password.password": "pw" })).status).toBe(422);
    expect((await post(w.admin, "/settings/external-managers", { scope: "global", scopeId: "junk", op: "set" })).status).toBe(422);
    expect((await Promise.all(["settings", "ca_accounts", "credentials"].map((t) => count(w.hub, t)))).join()).toBe(before);
  });
});

describe("Certificate Authorities", () => {
  test("add with a preset or a custom URL at a scope; errors inline; EAB HMAC key never shown; delete refused while used", async () => {
    let res = await post(w.admin, "/settings/ca-accounts", { scope: "global", scopeId: "", preset: "letsencrypt-staging", title: "", email: "ops@example.com", "eab.keyId": "", "eab.hmacKey": "", trustedRootsPem: "" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/settings/ca-accounts?done=created");
    const global = await page(w.admin, "/settings/ca-accounts");
    expect(global).toContain("Let&#39;s Encrypt (staging)");
    expect(global).toContain("https://acme-staging-v02.api.letsencrypt.org/directory");

    const before = await count(w.hub, "ca_accounts");
    const bad = await post(w.admin, "/settings/ca-accounts", { scope: "group", scopeId: "web", preset: "custom", directoryUrl: "ftp://ca.internal/dir", title: "Private CA", email: "pki@example.com" }, { htmx: "add-ca-account" });
    expect(bad.status).toBe(422);
    const badHtml = await bad.text();
    expect(badHtml).toContain("DirectoryUrl must use https://");
    expect(badHtml).toContain('value="Private CA"');
    const noEab = await post(w.admin, "/settings/ca-accounts", { scope: "global", scopeId: "", preset: "zerossl", email: "" });
    expect(noEab.status).toBe(422);
    expect(await noEab.text()).toContain("ZeroSSL requires External Account Binding");
    expect(await count(w.hub, "ca_accounts")).toBe(before);

    const HMAC = "c2VjcmV0LWhtYWMta2V5LW5ldmVyLXNob3du";
    res = await post(w.admin, "/settings/ca-accounts", { scope: "group", scopeId: "web", preset: "custom", directoryUrl: "https://ca.internal:9000/acme/acme/directory", title: "Private CA", email: "", "eab.keyId": "kid-1", "eab.hmacKey": HMAC });
    expect(res.status).toBe(303);
    const web = await page(w.admin, "/settings/ca-accounts?scope=group&group=web");
    expect(web).toContain("Private CA");
    expect(web).toContain("External Account Binding: stored (write-only)");
    expect(web).toContain("Also available here, from wider scopes"); // the global account
    expect(web).not.toContain(HMAC);
    expect(await page(w.admin, "/settings/ca-accounts")).not.toContain("Private CA"); // not at All instances
    // Only the web group's instances get it.
    const accounts = (await call(w.admin, "GET", `/api/v1/ca-accounts?instanceId=${other.instanceId}`)).body.map((a: { title: string }) => a.title);
    expect(accounts).not.toContain("Private CA");

    // In use by a certificate: delete is refused with the reason.
    const privateCa = (await call(w.admin, "GET", "/api/v1/ca-accounts?scope=group&scopeId=web")).body[0];
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: web1.instanceId, name: "intranet", domains: ["intranet.example.com"], caAccountId: privateCa.id, challenge: { type: "http-01" } });
    expect(cert.status).toBe(201);
    const refused = await post(w.admin, `/settings/ca-accounts/${privateCa.id}/delete`, { scope: "group", scopeId: "web" });
    expect(refused.status).toBe(409);
    expect(text(await refused.text())).toContain("is still used by certificate \"intranet\"");
    const hx = await post(w.admin, `/settings/ca-accounts/${privateCa.id}/delete`, { scope: "group", scopeId: "web" }, { htmx: "flash" });
    expect(hx.status).toBe(409);
    expect(await count(w.hub, "ca_accounts", `id = '${privateCa.id}'`)).toBe(1);
    expect((await call(w.admin, "DELETE", `/api/v1/managed-certificates/${cert.body.id}`)).status).toBe(200);
    const ok = await post(w.admin, `/settings/ca-accounts/${privateCa.id}/delete`, { scope: "group", scopeId: "web" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/settings/ca-accounts?scope=group&group=web&done=deleted");
    expect(await count(w.hub, "ca_accounts", `id = '${privateCa.id}'`)).toBe(0);
  });
});

describe("Stored Credentials", () => {
  const TSIG = "dHNpZy1zZWNyZXQtdGhhdC1zdGF5cy1oaWRkZW4=";
  const NEW_TSIG = "YW5vdGhlci10c2lnLXNlY3JldC1oaWRkZW4tdG9v";
  test("add per type at a scope; the secret is never shown; bad secrets refused; replace; delete refused while used", async () => {
    const before = await count(w.hub, "credentials");
    const bad = await post(w.admin, "/settings/credentials", { scope: "instance", scopeId: web1.instanceId, title: "dns key", type: "tsig", "secret.tsig.name": "web-key.", "secret.tsig.algorithm": "hmac-sha256", "secret.tsig.secret": "not base64!!" });
    expect(bad.status).toBe(422);
    const badHtml = await bad.text();
    expect(badHtml).toContain("Base64");
    expect(badHtml).toContain('value="dns key"');
    expect(badHtml).not.toContain("not base64!!"); // a typed secret is never sent back
    const noTitle = await post(w.admin, "/settings/credentials", { scope: "global", scopeId: "", title: "", type: "password", "secret.password.password": "x" }, { htmx: "add-credential" });
    expect(noTitle.status).toBe(422);
    expect(await noTitle.text()).toContain("Enter a title.");
    expect(await count(w.hub, "credentials")).toBe(before);

    let res = await post(w.admin, "/settings/credentials", { scope: "instance", scopeId: web1.instanceId, title: "dns key", type: "tsig", "secret.tsig.name": "web-key.", "secret.tsig.algorithm": "hmac-sha512", "secret.tsig.secret": TSIG });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/settings/credentials?scope=instance&instance=${web1.instanceId}&done=created`);
    const listed = await page(w.admin, `/settings/credentials?instance=${web1.instanceId}`);
    expect(listed).toContain("dns key");
    expect(listed).toContain("TSIG key (RFC 2136 DNS updates)");
    expect(listed).not.toContain(TSIG);
    const cred = (await call(w.admin, "GET", `/api/v1/credentials?scope=instance&scopeId=${web1.instanceId}`)).body[0];

    // Used by a certificate: listed as such, delete refused with the reason.
    const ca = (await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "Pebble", directoryUrl: "https://127.0.0.1:14000/dir", scope: "global" })).body;
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: web1.instanceId, name: "dns", domains: ["*.example.com"], caAccountId: ca.id, challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:53", credentialId: cred.id } });
    expect(cert.status).toBe(201);
    expect(await page(w.admin, `/settings/credentials?instance=${web1.instanceId}`)).toContain(`certificate <a href="/certificates/${cert.body.id}">dns</a>`);
    const refused = await post(w.admin, `/settings/credentials/${cred.id}/delete`, { scope: "instance", scopeId: web1.instanceId });
    expect(refused.status).toBe(409);
    expect(text(await refused.text())).toContain("is still used by certificate \"dns\"");

    // Replace: the agent gets the new secret, no page shows either.
    res = await post(w.admin, `/settings/credentials/${cred.id}/secret`, { scope: "instance", scopeId: web1.instanceId, "secret.tsig.name": "web-key.", "secret.tsig.algorithm": "hmac-sha256", "secret.tsig.secret": NEW_TSIG });
    expect(res.status).toBe(303);
    const cfg = (await syncConfig(web1))!;
    expect(cfg.credentials.find((c) => c.id === cred.id)!.secret.secret).toBe(NEW_TSIG);
    for (const p of [`/settings/credentials?instance=${web1.instanceId}`, "/settings/credentials", `/instances/${web1.instanceId}`, `/certificates/${cert.body.id}`, "/audit"]) {
      const html = await page(w.admin, p);
      expect(html, p).not.toContain(TSIG);
      expect(html, p).not.toContain(NEW_TSIG);
    }
    const badReplace = await post(w.admin, `/settings/credentials/${cred.id}/secret`, { scope: "instance", scopeId: web1.instanceId, "secret.tsig.name": "", "secret.tsig.secret": "" }, { htmx: "x" });
    expect(badReplace.status).toBe(422);

    expect((await call(w.admin, "DELETE", `/api/v1/managed-certificates/${cert.body.id}`)).status).toBe(200);
    expect((await post(w.admin, `/settings/credentials/${cred.id}/delete`, { scope: "instance", scopeId: web1.instanceId })).status).toBe(303);
    expect(await count(w.hub, "credentials", `id = '${cred.id}'`)).toBe(0);
  });
});

describe("External Certificate Managers", () => {
  test("defaults shown; a group's setting reaches exactly its instances; the instance view shows the scan and Refresh now", async () => {
    const html = await page(w.admin, "/settings/external-managers?scope=group&group=web");
    for (const d of ["/etc/letsencrypt", "~/.acme.sh", "Posh-ACME", "%PROGRAMDATA%\\win-acme"]) expect(html).toContain(d);
    const res = await post(w.admin, "/settings/external-managers", {
      scope: "group",
      scopeId: "web",
      op: "set",
      "certbot.enabled": "on",
      "certbot.configPath": "/srv/letsencrypt",
      "certbot.logPath": "/srv/letsencrypt/logs",
      "acme.sh.configPath": "",
      "posh-acme.enabled": "on",
      "simple-acme.enabled": "on",
      "win-acme.enabled": "on",
    });
    expect(res.status).toBe(303);
    expect((await syncConfig(web2))!.settings.externalManagers).toEqual({ certbot: { enabled: true, configPath: "/srv/letsencrypt", logPath: "/srv/letsencrypt/logs" }, "acme.sh": { enabled: false } });
    expect((await valueOf(other, "externalManagers")).scope).toBe("default");
    const after = await page(w.admin, "/settings/external-managers?scope=group&group=web");
    expect(after).toContain('value="/srv/letsencrypt"');
    expect(after).toMatch(/name="acme.sh.enabled"(?![^>]*checked)/);
    // An instance of the group sees it inherited, with its own scan state and Refresh now.
    const inst = await page(w.admin, `/settings/external-managers?instance=${web2.instanceId}`);
    expect(text(inst)).toContain("inherited from group “web”");
    expect(inst).toContain(`action="/instances/${web2.instanceId}/external-refresh"`);
    const clear = await post(w.admin, "/settings/external-managers", { scope: "group", scopeId: "web", op: "clear" });
    expect(clear.status).toBe(303);
    expect((await valueOf(web2, "externalManagers")).scope).toBe("default");
  });
});

describe("a Read-only Viewer", () => {
  test("sees every settings page without forms, and every change is refused with 403, writing nothing", async () => {
    for (const p of ["/settings", "/settings/ca-accounts", "/settings/credentials", "/settings/external-managers", `/settings?instance=${web1.instanceId}`]) {
      const html = await page(viewer, p);
      expect(html, p).not.toContain('<button type="submit" class="small primary" name="op" value="set">');
      expect(html, p).not.toContain("Add CA account");
      expect(html, p).not.toContain("Store credential");
    }
    const tables = ["settings", "ca_accounts", "credentials"];
    const before = await Promise.all(tables.map((t) => count(w.hub, t)));
    const attempts: [string, Record<string, string>][] = [
      ["/settings/general/defaultKeyType", { scope: "global", scopeId: "", value: "rsa-2048" }],
      ["/settings/ca-accounts", { scope: "global", scopeId: "", preset: "letsencrypt", email: "x@example.com" }],
      ["/settings/credentials", { scope: "global", scopeId: "", title: "t", type: "password", "secret.password.password": "pw" }],
      ["/settings/external-managers", { scope: "global", scopeId: "", op: "set" }],
      [`/instances/${web1.instanceId}/external-refresh`, {}],
    ];
    for (const [p, f] of attempts) {
      expect((await post(viewer, p, f)).status, p).toBe(403);
      expect((await post(viewer, p, f, { htmx: "x" })).status, p).toBe(403);
    }
    expect(await Promise.all(tables.map((t) => count(w.hub, t)))).toEqual(before);
  });
});
