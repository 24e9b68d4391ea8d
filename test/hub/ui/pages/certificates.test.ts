// The Certificates pages against an in-process hub with a signed-in admin and a fake agent
// that reports like the real one: the first-run explanation, New certificate with its pickers
// (only what the instance can use), inline validation that keeps what was typed and writes
// nothing, the task editor, the definition reaching the agent, the detail page with the
// agent's report and its actions, external certificates, the instance page, a read-only viewer,
// and that no stored secret ever appears in a page.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Session } from "../../../helpers/session";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../../core/fixtures";
import type { FakeAgent } from "../../agent-api.fixtures";
import { count, page, post, readOnlyViewer, text } from "./helpers";

let w: World;
let viewer: Session;
let web: FakeAgent; // group "web"
let db1: FakeAgent; // group "db"
let caGlobal: string;
let caDb: string;
let tsigId: string;
let pfxPwId: string;
const TSIG_SECRET = "c2VjcmV0LXRzaWcta2V5LXRoYXQtbXVzdC1uZXZlci1zaG93";
const PFX_PASSWORD = "pfx-password-never-shown-42";
const now = Date.now();
const DAY = 86_400_000;

beforeAll(async () => {
  w = await startWorld();
  viewer = await readOnlyViewer(w.hub, w.admin);
});
afterAll(() => w.hub.stop());

/** A complete, valid New certificate form for `instanceId`. */
function validForm(instanceId: string, over: Record<string, string | string[]> = {}) {
  return {
    instanceId,
    name: "shop",
    domains: "shop.example.com\nwww.shop.example.com",
    keyType: "",
    caAccountId: caGlobal,
    "challenge.kind": "http-standalone",
    "challenge.port": "8080",
    "verify.host": "",
    "verify.port": "",
    op: "save",
    ...over,
  };
}

describe("before any certificate exists", () => {
  test("the Certificates page says what to do instead of showing an empty table", async () => {
    const html = await page(w.admin, "/certificates");
    expect(html).toContain("No certificates yet.");
    expect(html).toContain('href="/certificates/new"');
    expect(html).toContain('href="/settings/ca-accounts"'); // no CA account yet: add one first
    expect(html).toContain('href="/settings/external-managers"');
    expect(html).toContain("Both need a joined instance");
    expect(html).not.toContain('<table id="certificates"');
  });
});

describe("New certificate", () => {
  beforeAll(async () => {
    web = await addInstance(w, { group: "web", hostname: "web-01.example.test" });
    db1 = await addInstance(w, { group: "db", hostname: "db-01.example.test" });
    caGlobal = (await createCaAccount(w.admin, { title: "Pebble (all)" })).id;
    caDb = (await createCaAccount(w.admin, { title: "Only for db", scope: "group", scopeId: "db" })).id;
    const tsig = await call(w.admin, "POST", "/api/v1/credentials", { title: "web TSIG", type: "tsig", secret: { name: "web-key.", algorithm: "hmac-sha256", secret: TSIG_SECRET }, scope: "group", scopeId: "web" });
    expect(tsig.status).toBe(201);
    tsigId = tsig.body.id;
    const pw = await call(w.admin, "POST", "/api/v1/credentials", { title: "PFX password", type: "password", secret: { password: PFX_PASSWORD }, scope: "global" });
    pfxPwId = pw.body.id;
  });

  test("the pickers list only the CA accounts and credentials the chosen instance can use", async () => {
    const forWeb = await page(w.admin, `/certificates/new?instanceId=${web.instanceId}`);
    expect(forWeb).toContain(`<option value="${web.instanceId}" selected="">web-01.example.test`);
    expect(forWeb).toContain(`value="${caGlobal}"`);
    expect(forWeb).not.toContain(`value="${caDb}"`);
    expect(forWeb).toContain(`value="${tsigId}"`);
    expect(forWeb).toContain("default (ecdsa-p256, from settings)");
    const forDb = await page(w.admin, `/certificates/new?instanceId=${db1.instanceId}`);
    expect(forDb).toContain(`value="${caDb}"`);
    expect(forDb).not.toContain(`value="${tsigId}"`);
    // Choosing another instance re-renders just the form (htmx, op=refresh) with its choices.
    const res = await post(w.admin, "/certificates/new", { instanceId: db1.instanceId, name: "typed", op: "refresh" }, { htmx: "certificate-form-host" });
    expect(res.status).toBe(200);
    const frag = await res.text();
    expect(frag).toStartWith('<div class="form-host" id="certificate-form-host">');
    expect(frag).toContain(`value="${caDb}"`);
    expect(frag).toContain('value="typed"');
  });

  test("invalid input answers 422 with the message beside each field, keeps what was typed, writes nothing", async () => {
    const before = await count(w.hub, "managed_certificates");
    const bad = await post(w.admin, "/certificates/new", validForm(web.instanceId, { domains: "ok.example.com, not_a domain!", name: "", "challenge.port": "eighty", "verify.port": "444", "renewal.lifetimePercent": "99" }));
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain("Not a valid domain name: not_a");
    expect(html).toContain("Enter a name");
    expect(html).toMatch(/name="challenge.port"[^>]*value="eighty"/);
    expect(html).toMatch(/name="verify.host" value="" placeholder="first domain"(?! aria-invalid)/); // a port alone checks the first domain: no error
    expect(html).toContain("Between 10 and 95 %, or leave it empty.");
    expect(html).toContain("ok.example.com, not_a domain!"); // the domains as typed

    // A port without a host means "the first domain that is not a wildcard": with only wildcards there is none.
    const noHost = await post(w.admin, "/certificates/new", validForm(web.instanceId, { domains: "*.example.com", "verify.port": "443" }));
    expect(noHost.status).toBe(422);
    expect(await noHost.text()).toContain("Every domain is a wildcard: enter the host to check.");

    // A rule of the core (wildcards need dns-01) lands on the challenge.
    const wild = await post(w.admin, "/certificates/new", validForm(web.instanceId, { domains: "*.example.com" }), { htmx: "certificate-form-host" });
    expect(wild.status).toBe(422);
    const frag = await wild.text();
    expect(frag).toContain("can only be validated with a dns-01 challenge");
    expect(frag).toStartWith('<div class="form-host"'); // htmx swaps the form in place

    // A CA account of another group is refused by the rules even if posted by hand.
    const other = await post(w.admin, "/certificates/new", validForm(web.instanceId, { caAccountId: caDb }));
    expect(other.status).toBe(422);
    expect(await other.text()).toContain("not available to instance web-01.example.test");
    expect(await count(w.hub, "managed_certificates")).toBe(before);
  });

  test("the task editor adds, reorders and deletes tasks without losing what was typed", async () => {
    const base = validForm(web.instanceId, { name: "kept name" });
    let res = await post(w.admin, "/certificates/new", { ...base, op: "add", newTaskType: "pem" });
    expect(res.status).toBe(200);
    let html = await res.text();
    expect(html).toContain('name="deployments.0.directory"');
    expect(html).toContain('value="kept name"');
    res = await post(w.admin, "/certificates/new", { ...base, "deployments.0.type": "pem", "deployments.0.directory": "/etc/ssl/shop", "deployments.0.trigger": "success", op: "add", newTaskType: "pfx" });
    html = await res.text();
    expect(html).toContain('name="deployments.1.passwordCredentialId"');
    expect(html).toContain("Windows Server 2016 and older and the macOS keychain need legacy");
    const two = {
      ...base,
      "deployments.0.type": "pem",
      "deployments.0.directory": "/etc/ssl/shop",
      "deployments.0.trigger": "success",
      "deployments.1.type": "pfx",
      "deployments.1.path": "/etc/ssl/shop.pfx",
      "deployments.1.passwordCredentialId": pfxPwId,
      "deployments.1.encoding": "legacy",
      "deployments.1.trigger": "success",
    };
    res = await post(w.admin, "/certificates/new", { ...two, op: "up:1" });
    html = await res.text();
    expect(html).toMatch(/name="deployments.0.path" type="text" value="\/etc\/ssl\/shop.pfx"/);
    expect(html).toMatch(/name="deployments.1.directory" type="text" value="\/etc\/ssl\/shop"/);
    res = await post(w.admin, "/certificates/new", { ...two, op: "del:0" });
    html = await res.text();
    expect(html).toContain('value="/etc/ssl/shop.pfx"');
    expect(html).not.toContain('value="/etc/ssl/shop"');
    expect(await count(w.hub, "managed_certificates")).toBe(0);
  });

  test("a valid form creates the certificate, which reaches the agent with its tasks in order", async () => {
    const res = await post(
      w.admin,
      "/certificates/new",
      validForm(web.instanceId, {
        name: "shop",
        keyType: "ecdsa-p384",
        "challenge.kind": "dns-rfc2136",
        "challenge.server": "127.0.0.1:5353",
        "challenge.zone": "example.com",
        "challenge.credentialId": tsigId,
        domains: "*.shop.example.com, shop.example.com",
        "deployments.0.type": "pfx",
        "deployments.0.path": "/etc/ssl/shop.pfx",
        "deployments.0.passwordCredentialId": pfxPwId,
        "deployments.0.encoding": "legacy",
        "deployments.0.trigger": "success",
        "deployments.1.type": "service",
        "deployments.1.manager": "systemd",
        "deployments.1.name": "nginx.service",
        "deployments.1.action": "reload",
        "deployments.1.trigger": "success",
        "deployments.1.continueOnError": "on",
        "deployments.2.type": "wait",
        "deployments.2.seconds": "5",
        "deployments.2.trigger": "always",
        "verify.host": "shop.example.com",
        "verify.port": "8443",
        "renewal.lifetimePercent": "50",
        profile: "shortlived",
      }),
    );
    expect(res.status).toBe(303);
    const loc = res.headers.get("location")!;
    expect(loc).toMatch(/^\/certificates\/mc_[a-z0-9]+\?done=created$/);
    const id = loc.split("/")[2].split("?")[0];
    const cfg = (await syncConfig(web))!;
    const spec = cfg.certificates.find((c) => c.id === id)!;
    expect(spec).toMatchObject({
      name: "shop",
      keyType: "ecdsa-p384",
      domains: ["*.shop.example.com", "shop.example.com"],
      challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", zone: "example.com", credentialId: tsigId },
      verify: { host: "shop.example.com", port: 8443 },
      renewal: { lifetimePercent: 50 },
      profile: "shortlived",
    });
    expect(spec.deployments.map((d) => d.type)).toEqual(["pfx", "service", "wait"]);
    expect(spec.deployments[0]).toMatchObject({ encoding: "legacy", passwordCredentialId: pfxPwId });
    expect(spec.deployments[1]).toMatchObject({ name: "nginx.service", continueOnError: true });
    // Both credentials travel to this instance only.
    expect(cfg.credentials.map((c) => c.id).sort()).toEqual([tsigId, pfxPwId].sort());
    expect((await syncConfig(db1))?.credentials ?? []).toEqual([]);

    const detail = await page(w.admin, loc);
    expect(detail).toContain("Certificate defined.");
    expect(text(detail)).toContain("at 50 % of the lifetime (this certificate's own rule) · ACME profile shortlived");
    expect(detail).toContain("waiting for the agent");
    // Listed at once as pending.
    expect(text(await page(w.admin, "/certificates"))).toContain("shop");
  });
});

describe("a reported certificate", () => {
  let id: string;
  beforeAll(async () => {
    const created = await call(w.admin, "POST", "/api/v1/managed-certificates", {
      instanceId: web.instanceId,
      name: "api",
      domains: ["api.example.com"],
      caAccountId: caGlobal,
      challenge: { type: "http-01", port: 80 },
      deployments: [{ type: "pem", directory: "/etc/ssl/api" }, { type: "service", manager: "systemd", name: "nginx.service" }],
      verify: { host: "api.example.com", port: 443 },
    });
    expect(created.status).toBe(201);
    id = created.body.id;
    const cfg = (await syncConfig(web))!;
    const r = await web.sync({
      settingsVersion: cfg.version,
      certificatesHash: "r1",
      certificates: [
        {
          id,
          name: "api",
          domains: ["api.example.com"],
          source: "managed",
          status: "valid",
          notBefore: now - DAY,
          notAfter: now + 89 * DAY,
          serial: "0a1b2c3d",
          issuer: "CN=Pebble Intermediate CA",
          nextRenewalAt: now + 59 * DAY,
          renewalReason: "lifetime",
          failureCount: 0,
          attempts: [
            { at: now - 2 * DAY, kind: "issue", outcome: "failed", message: "urn:ietf:params:acme:error:connection: Connection refused by 203.0.113.9:80", steps: [{ name: "challenge", outcome: "failed", ms: 1234, domain: "api.example.com", message: "Connection refused" }] },
            { at: now - DAY, kind: "issue", outcome: "succeeded", message: "issued", serial: "0a1b2c3d", steps: [{ name: "order", outcome: "ok", ms: 30 }, { name: "finalize", outcome: "ok", ms: 2500 }] },
          ],
          deployments: [
            { index: 0, type: "pem", lastResult: { at: now - DAY, outcome: "succeeded", message: "4 files written", ms: 12 } },
            { index: 1, type: "service", lastResult: { at: now - DAY, outcome: "failed", message: "nginx: [emerg] unknown directive", ms: 80, output: "nginx: configuration file test failed" } },
          ],
          served: "stale",
          revision: 1,
        },
        { id: "certbot:legacy.example.org", name: "legacy.example.org", domains: ["legacy.example.org"], source: "certbot", status: "expiring", notAfter: now + 5 * DAY, serial: "ff01", issuer: "CN=R11", nextRenewalAt: now + DAY, paths: { cert: "/etc/letsencrypt/live/legacy.example.org/cert.pem", key: "/etc/letsencrypt/live/legacy.example.org/privkey.pem" }, identifier: "legacy.example.org" },
      ],
      accounts: [{ caAccountId: caGlobal, status: "registered", accountUrl: "https://127.0.0.1:14000/my-account/1", at: now - DAY }],
      externalManagers: [
        { name: "certbot", status: "ok", configPath: "/etc/letsencrypt", certificateCount: 1, scannedAt: now, problems: [] },
        { name: "acme.sh", status: "error", configPath: "/root/.acme.sh", certificateCount: 0, scannedAt: now, problems: ["cannot read /root/.acme.sh: permission denied — run the agent as root or grant read access"] },
      ],
    });
    expect(r.status).toBe(200);
  });

  test("its page shows status, plan, attempts with steps and durations, task results, served state, registration", async () => {
    const t = text(await page(w.admin, `/certificates/${id}`));
    for (const s of [
      "valid",
      "0a1b2c3d",
      "CN=Pebble Intermediate CA",
      "the configured share of the lifetime has passed",
      "Connection refused by 203.0.113.9:80", // the CA's own words
      "1.2 s",
      "2.5 s",
      "4 files written",
      "nginx: [emerg] unknown directive",
      "nginx: configuration file test failed",
      "stale: the host still presents an older certificate",
      "registered",
      "/etc/ssl/api/{cert,chain,fullchain,privkey}.pem",
      "Renew now",
      "Deploy now",
    ])
      expect(t).toContain(s);
  });

  test("Settings › Certificate Authorities shows each instance's registration and the certificates using the account", async () => {
    const html = await page(w.admin, "/settings/ca-accounts");
    const row = html.slice(html.indexOf(`data-ca-account-id="${caGlobal}"`));
    expect(text(row.slice(0, row.indexOf("</tr>")))).toMatch(/web-01\.example\.test registered .*api/);
  });

  test("Renew now, Test and Deploy now queue commands for the agent; a viewer sees no buttons and is refused", async () => {
    for (const [action, type] of [["renew", "renew-certificate"], ["test", "test-certificate"], ["deploy", "deploy-certificate"]] as const) {
      const res = await post(w.admin, `/certificates/${id}/${action}`, {});
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe(`/certificates/${id}?done=${action}`);
      expect(await count(w.hub, "commands", `type = '${type}' and instance_id = '${web.instanceId}'`)).toBe(1);
    }
    const hx = await post(w.admin, `/certificates/${id}/renew`, {}, { htmx: "" });
    expect(hx.status).toBe(204);
    expect(hx.headers.get("hx-redirect")).toBe(`/certificates/${id}?done=renew`);
    expect(await page(w.admin, `/certificates/${id}?done=renew`)).toContain("Renewal queued");
    // The page lists what was asked of the agent; its live part refreshes on its own.
    const live = await w.admin.fetch(`/certificates/${id}`, { headers: { "hx-request": "true", "hx-target": "certificate-live" } });
    const liveHtml = await live.text();
    expect(liveHtml).toStartWith('<div id="certificate-live"');
    expect(text(liveHtml)).toContain("Deploy now queued");
    expect(liveHtml).not.toContain("<html");

    const list = await page(viewer, "/certificates");
    expect(list).not.toContain('href="/certificates/new"');
    expect(list).toContain(`href="/certificates/${id}"`);
    const asViewer = await page(viewer, `/certificates/${id}`);
    expect(asViewer).not.toContain(`action="/certificates/${id}/renew"`);
    expect(asViewer).not.toContain(`/certificates/${id}/edit`);
    expect(asViewer).toContain("Read-only access");
    const commands = await count(w.hub, "commands");
    for (const a of ["renew", "test", "deploy", "delete", "edit"]) expect((await post(viewer, `/certificates/${id}/${a}`, {})).status, a).toBe(403);
    expect((await post(viewer, "/certificates/new", validForm(web.instanceId))).status).toBe(403);
    expect((await viewer.fetch("/certificates/new")).status).toBe(403);
    expect(await count(w.hub, "commands")).toBe(commands);
    expect(await count(w.hub, "managed_certificates", `id = '${id}'`)).toBe(1);
  });

  test("Test task: a Test task button per deployment task queues test-task for that task; the task's last test shows under it; viewers have no button", async () => {
    const html = await page(w.admin, `/certificates/${id}`);
    expect(html).toContain(`action="/certificates/${id}/tasks/0/test"`);
    expect(html).toContain(`action="/certificates/${id}/tasks/1/test"`);
    const res = await post(w.admin, `/certificates/${id}/tasks/1/test`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/certificates/${id}?done=test-task`);
    expect(await page(w.admin, `/certificates/${id}?done=test-task`)).toContain("Task test queued");
    expect(await count(w.hub, "commands", `type = 'test-task' and instance_id = '${web.instanceId}' and payload = '{"certificateId":"${id}","index":1}'`)).toBe(1);
    expect((await post(w.admin, `/certificates/${id}/tasks/7/test`, {})).status).toBe(404);
    expect(await page(viewer, `/certificates/${id}`)).not.toContain("/tasks/0/test");
    expect((await post(viewer, `/certificates/${id}/tasks/0/test`, {})).status).toBe(403);
  });

  test("the list: summary counts, filters, sort, external certificates labelled with their client", async () => {
    const html = await page(w.admin, "/certificates");
    const summary = (h: string) => Number(html.match(new RegExp(`data-health="${h}"><span class="value">(\\d+)`))![1]);
    expect(summary("warning")).toBe(2); // stale served + failed task, and the expiring certbot one
    expect(summary("pending")).toBe(1); // "shop" has not been reported
    expect(html).toContain("certbot");
    expect(html).toContain("read-only");
    expect(html).toContain(`href="/certificates/external/${web.instanceId}/certbot%3Alegacy.example.org"`);
    expect(html).toContain("deploy warning");

    const rowsOf = (h: string) => [...h.matchAll(/<tr data-certificate-id="([^"]+)"/g)].map((m) => m[1]);
    // Default sort: soonest expiry first, unknown expiry last.
    expect(rowsOf(html)[0]).toBe("certbot:legacy.example.org");
    expect(rowsOf(html).at(-1)).toMatch(/^mc_/);
    expect(rowsOf(await page(w.admin, "/certificates?source=certbot"))).toEqual(["certbot:legacy.example.org"]);
    expect(rowsOf(await page(w.admin, "/certificates?source=managed")).length).toBe(2);
    expect(rowsOf(await page(w.admin, "/certificates?health=warning")).length).toBe(2);
    expect(rowsOf(await page(w.admin, "/certificates?status=valid"))).toEqual([id]);
    expect(rowsOf(await page(w.admin, "/certificates?group=db"))).toEqual([]);
    expect(rowsOf(await page(w.admin, "/certificates?group=web")).length).toBe(3);
    expect(rowsOf(await page(w.admin, "/certificates?q=legacy"))).toEqual(["certbot:legacy.example.org"]);
    expect(rowsOf(await page(w.admin, "/certificates?q=web-01.example"))).toHaveLength(3); // hostname
    expect(rowsOf(await page(w.admin, "/certificates?sort=name"))[0]).toBe(id); // "api"
    expect(await page(w.admin, "/certificates?q=nothing-like-this")).toContain("No certificates match this filter.");
    // htmx asks for just the table.
    const frag = await (await w.admin.fetch("/certificates?source=certbot", { headers: { "hx-request": "true", "hx-target": "certificates-table" } })).text();
    expect(frag).toStartWith('<div id="certificates-table">');
    // Junk in the query string is ignored, never a 500.
    expect((await w.admin.fetch("/certificates?sort=evil&offset=-3&status=%00&health=x")).status).toBe(200);
  });

  test("an external certificate's page shows client, identifier, paths and next renewal; Refresh now queues a scan", async () => {
    const url = `/certificates/external/${web.instanceId}/${encodeURIComponent("certbot:legacy.example.org")}`;
    const t = text(await page(w.admin, url));
    for (const s of ["Renewed by certbot", "legacy.example.org", "/etc/letsencrypt/live/legacy.example.org/cert.pem", "ff01", "Next renewal", "Refresh now"]) expect(t).toContain(s);
    const res = await post(w.admin, `${url}/refresh`, {});
    expect(res.status).toBe(303);
    expect(await count(w.hub, "commands", `type = 'refresh-external-scan' and instance_id = '${web.instanceId}'`)).toBe(1);
    expect((await post(viewer, `${url}/refresh`, {})).status).toBe(403);
    expect(await page(viewer, url)).not.toContain("Refresh now");
    expect((await w.admin.fetch(`/certificates/external/${web.instanceId}/nope`)).status).toBe(404);
  });

  test("the instance page lists its certificates, external managers with problems, and effective settings", async () => {
    const html = await page(w.admin, `/instances/${web.instanceId}`);
    const t = text(html);
    expect(html).toContain(`href="/certificates/new?instanceId=${web.instanceId}"`);
    expect(html).toContain(`href="/certificates/${id}"`);
    expect(t).toContain("permission denied — run the agent as root or grant read access");
    expect(t).toContain("Effective settings");
    expect(t).toContain("Default key type");
    expect(t).toContain("built-in default");
    const res = await post(w.admin, `/instances/${web.instanceId}/external-refresh`, {});
    expect(res.status).toBe(303);
    // The outcome shows once on the instance page (flash cookie, never words from the URL).
    const cookie = res.headers.get("set-cookie")!.split(";")[0];
    const after = await fetch(`${w.hub.url}/instances/${web.instanceId}`, { headers: { cookie: `${w.admin.cookie}; ${cookie}` } });
    expect(text(await after.text())).toContain("Refresh queued");
    expect(await count(w.hub, "commands", `type = 'refresh-external-scan' and instance_id = '${web.instanceId}'`)).toBe(2);
  });

  test("Edit shows the stored definition and saves a new revision; Delete removes it", async () => {
    const form = await page(w.admin, `/certificates/${id}/edit`);
    expect(form).toContain("api.example.com");
    expect(form).toMatch(/name="deployments.0.directory" type="text" value="\/etc\/ssl\/api"/);
    expect(form).toMatch(/name="deployments.1.name" type="text" value="nginx.service"/);
    const values: Record<string, string> = {};
    for (const m of form.matchAll(/<input name="([^"]+)"[^>]*?value="([^"]*)"/g)) values[m[1]] = m[2].replace(/&amp;/g, "&");
    for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) values[m[1]] = m[2];
    const res = await post(w.admin, `/certificates/${id}/edit`, {
      ...values,
      domains: "api.example.com\napi2.example.com",
      keyType: "rsa-2048",
      caAccountId: caGlobal,
      "challenge.kind": "http-standalone",
      "deployments.0.trigger": "success",
      "deployments.1.manager": "systemd",
      "deployments.1.action": "restart",
      "deployments.1.trigger": "success",
      op: "save",
    });
    expect(res.status).toBe(303);
    const def = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    expect(def).toMatchObject({ revision: 2, domains: ["api.example.com", "api2.example.com"], keyType: "rsa-2048" });
    expect(def.deployments[1]).toMatchObject({ type: "service", action: "restart" });

    // A rule about something the edit form does not show still says what is wrong.
    await w.hub.deps.db.run(sql`update instances set state = 'revoked' where id = ${web.instanceId}`);
    const refused = await post(w.admin, `/certificates/${id}/edit`, {
      ...values,
      domains: "api.example.com",
      caAccountId: caGlobal,
      "challenge.kind": "http-standalone",
      "deployments.0.trigger": "success",
      "deployments.1.manager": "systemd",
      "deployments.1.action": "restart",
      "deployments.1.trigger": "success",
      op: "save",
    });
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("is revoked; reinstate it first");
    await w.hub.deps.db.run(sql`update instances set state = 'active' where id = ${web.instanceId}`);

    const del = await post(w.admin, `/certificates/${id}/delete`, {});
    expect(del.status).toBe(303);
    expect(del.headers.get("location")).toBe("/certificates?done=deleted");
    expect((await w.admin.fetch(`/certificates/${id}`)).status).toBe(404);
  });

  test("no stored secret appears in any page", async () => {
    const paths = ["/certificates", `/instances/${web.instanceId}`, "/settings/credentials", `/settings/credentials?scope=group&group=web`, `/certificates/new?instanceId=${web.instanceId}`, "/audit"];
    const managed = (await call(w.admin, "GET", `/api/v1/managed-certificates?instanceId=${web.instanceId}`)).body as { id: string }[];
    for (const m of managed) paths.push(`/certificates/${m.id}`, `/certificates/${m.id}/edit`);
    for (const p of paths) {
      const html = await page(w.admin, p);
      expect(html, p).not.toContain(TSIG_SECRET);
      expect(html, p).not.toContain(PFX_PASSWORD);
    }
  });
});
