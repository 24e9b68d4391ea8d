// "Move to another scope" on Settings › Stored Credentials and › Certificate Authorities,
// against an in-process hub: each own row has the move form (the scope picker's choices), a
// move lands where it was asked and the instance using the secret still gets it, a move that
// would strand a certificate shows the refusal on the scope field (htmx fragment and plain
// page) and changes nothing, a CA account's EAB credential is not moved on its own, a Read-only
// Viewer gets no form and cannot post one, and in a fleet of more than the picker's 100 the
// form's Find instance reaches instance #150 (by hostname, display name or id) and the move lands.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Session } from "../../../../helpers/session";
import type { FakeAgent } from "../../../agent-api.fixtures";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../../../core/fixtures";
import { page, post, readOnlyViewer, text } from "../helpers";
import { haveChromium, openBrowser, signInAsAdmin, warnIfNoChromium } from "../../../../helpers/browser";

warnIfNoChromium("the move form's Find instance in Chromium");

let w: World;
let viewer: Session;
let web1: FakeAgent;
let lonely: FakeAgent;

beforeAll(async () => {
  w = await startWorld();
  viewer = await readOnlyViewer(w.hub, w.admin);
  web1 = await addInstance(w, { group: "mvweb", hostname: "web-1.move.test" });
  await addInstance(w, { group: "mvweb", hostname: "web-2.move.test" });
  lonely = await addInstance(w, { group: null, hostname: "lonely.move.test" });
}, 30_000);
afterAll(() => w.hub.stop());

const TSIG = { name: "mv-key.", algorithm: "hmac-sha256", secret: "TW92ZVBhZ2VTZWNyZXQ=" };

/** The <details> of the move form of one row (credential or CA account). */
function moveForm(html: string, id: string): string {
  const at = html.indexOf(`/${id}/scope`);
  expect(at).toBeGreaterThan(-1);
  const from = html.lastIndexOf("<details", at);
  const to = html.indexOf("</details>", at);
  return html.slice(from, to + "</details>".length);
}

async function credentialUsedOnWeb1() {
  const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "web-1 TSIG", type: "tsig", scope: "instance", scopeId: web1.instanceId, secret: TSIG });
  expect(cred.status).toBe(201);
  const ca = await createCaAccount(w.admin);
  const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", {
    instanceId: web1.instanceId,
    name: "page-mover",
    domains: ["page-mover.example.com"],
    caAccountId: ca.id,
    challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId: cred.body.id },
  });
  expect(cert.status).toBe(201);
  return { id: cred.body.id as string, certId: cert.body.id as string };
}

describe("Settings › Stored Credentials: move to another scope", () => {
  test("the row's move form offers the scope picker's choices; a move lands there and the secret keeps reaching its instance", async () => {
    const cred = await credentialUsedOnWeb1();
    const html = await page(w.admin, `/settings/credentials?instance=${web1.instanceId}`);
    const form = moveForm(html, cred.id);
    expect(form).toContain(`action="/settings/credentials/${cred.id}/scope?scope=instance&amp;instance=${web1.instanceId}"`);
    expect(form).toContain('name="scope" value="global"');
    expect(form).toMatch(/name="scope" value="instance" checked/);
    expect(form).toContain('<option value="mvweb"');
    expect(form).toMatch(new RegExp(`<option value="${web1.instanceId}" selected`));
    expect(form).toContain(`lonely.move.test (${lonely.instanceId})`);
    const before = await syncConfig(web1);
    expect(before!.credentials).toEqual([{ id: cred.id, type: "tsig", secret: TSIG }]);

    // htmx: back to the page of the scope it moved to.
    const res = await post(w.admin, `/settings/credentials/${cred.id}/scope?scope=instance&instance=${web1.instanceId}`, { scope: "group", group: "mvweb", instance: web1.instanceId }, { htmx: "" });
    expect(res.status).toBe(204);
    expect(res.headers.get("hx-redirect")).toBe("/settings/credentials?scope=group&group=mvweb&done=moved");
    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.id}`)).body).toMatchObject({ scope: "group", scopeId: "mvweb" });
    const moved = await page(w.admin, "/settings/credentials?scope=group&group=mvweb&done=moved");
    expect(text(moved)).toContain("Credential moved.");
    expect(moved).toContain(`data-credential-id="${cred.id}"`);
    expect(moved).not.toContain(TSIG.secret);
    expect((await syncConfig(web1))!.credentials).toEqual([{ id: cred.id, type: "tsig", secret: TSIG }]);

    // Plain browser form: a 303 to All instances.
    const plain = await post(w.admin, `/settings/credentials/${cred.id}/scope?scope=group&group=mvweb`, { scope: "global", group: "mvweb", instance: web1.instanceId });
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/settings/credentials?done=moved");
    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.id}`)).body.scope).toBe("global");
    expect((await syncConfig(web1))!.credentials).toEqual([{ id: cred.id, type: "tsig", secret: TSIG }]);
  });

  test("a move that would strand a certificate shows the refusal on the scope field and changes nothing", async () => {
    const cred = await credentialUsedOnWeb1();
    const back = `/settings/credentials/${cred.id}/scope?scope=instance&instance=${web1.instanceId}`;
    const fields = { scope: "instance", group: "mvweb", instance: lonely.instanceId };

    const fragment = await post(w.admin, back, fields, { htmx: "" });
    expect(fragment.status).toBe(422);
    const frag = await fragment.text();
    expect(frag).toMatch(/<details[^>]*open/);
    const fieldError = frag.match(/<span class="field-error" id="err-scope"[^>]*>([^<]*)<\/span>/);
    expect(fieldError).not.toBeNull();
    expect(text(fieldError![1])).toContain('certificate "page-mover"');
    expect(fieldError![1]).toContain(cred.certId);
    expect(fieldError![1]).toContain("web-1.move.test");
    // What was picked stays picked.
    expect(frag).toMatch(new RegExp(`<option value="${lonely.instanceId}" selected`));

    const plain = await post(w.admin, back, fields);
    expect(plain.status).toBe(422);
    const html = await plain.text();
    expect(text(html)).toContain("The credential was not moved");
    const form = moveForm(html, cred.id);
    expect(form).toMatch(/<details[^>]*open/);
    expect(text(form)).toContain('certificate "page-mover"');
    expect(form).toContain('id="err-scope"');

    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.id}`)).body).toMatchObject({ scope: "instance", scopeId: web1.instanceId });
    const audit = (await call(w.admin, "GET", "/api/v1/audit?limit=200")).body as any[];
    expect(audit.filter((a) => a.action === "credential.move" && a.targetId === cred.id)).toEqual([]);
  });

  test("a CA account's EAB credential posted to a wider scope is refused on the scope field, naming the account; nothing moves", async () => {
    const ca = await createCaAccount(w.admin, { title: "EAB Page CA", scope: "group", scopeId: "mvweb", eab: { keyId: "kid-p", hmacKey: "cGFnZQ" } });
    const eabId = (await call(w.admin, "GET", `/api/v1/ca-accounts/${ca.id}`)).body.eab.credentialId as string;
    const back = `/settings/credentials/${eabId}/scope?scope=group&group=mvweb`;

    const fragment = await post(w.admin, back, { scope: "global", group: "mvweb", instance: web1.instanceId }, { htmx: "" });
    expect(fragment.status).toBe(422);
    const fieldError = (await fragment.text()).match(/<span class="field-error" id="err-scope"[^>]*>([^<]*)<\/span>/);
    expect(fieldError).not.toBeNull();
    expect(text(fieldError![1])).toContain(`External Account Binding of CA account "EAB Page CA" (${ca.id}) for group "mvweb"`);
    expect(text(fieldError![1])).toContain("move the CA account instead");

    const plain = await post(w.admin, back, { scope: "global", group: "mvweb", instance: web1.instanceId });
    expect(plain.status).toBe(422);
    expect(text(await plain.text())).toContain("The credential was not moved");

    expect((await call(w.admin, "GET", `/api/v1/credentials/${eabId}`)).body).toMatchObject({ scope: "group", scopeId: "mvweb" });
    const audit = (await call(w.admin, "GET", "/api/v1/audit?limit=200")).body as any[];
    expect(audit.filter((a) => a.action === "credential.move" && a.targetId === eabId)).toEqual([]);
  });

  test("a Read-only Viewer sees no move form and cannot post one", async () => {
    const cred = await call(w.admin, "POST", "/api/v1/credentials", { title: "viewer sees", type: "password", scope: "global", secret: { password: "pw-viewer" } });
    const html = await page(viewer, "/settings/credentials");
    expect(html).toContain(`data-credential-id="${cred.body.id}"`);
    expect(html).not.toContain(`/${cred.body.id}/scope`);
    const res = await post(viewer, `/settings/credentials/${cred.body.id}/scope`, { scope: "instance", instance: lonely.instanceId });
    expect(res.status).toBe(403);
    expect((await call(w.admin, "GET", `/api/v1/credentials/${cred.body.id}`)).body.scope).toBe("global");
  });
});

describe("Settings › Certificate Authorities: move to another scope", () => {
  test("moved to a wider scope; a move stranding a certificate is refused on the scope field", async () => {
    const ca = await createCaAccount(w.admin, { title: "Group CA", scope: "group", scopeId: "mvweb", eab: { keyId: "kid", hmacKey: "aGVsbG8" } });
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: web1.instanceId, name: "ca-page-mover", domains: ["ca-page-mover.example.com"], caAccountId: ca.id, challenge: { type: "http-01", port: 80 } });
    expect(cert.status).toBe(201);
    const html = await page(w.admin, "/settings/ca-accounts?scope=group&group=mvweb");
    const form = moveForm(html, ca.id);
    expect(form).toContain(`action="/settings/ca-accounts/${ca.id}/scope?scope=group&amp;group=mvweb"`);
    expect(form).toMatch(/name="scope" value="group" checked/);

    const refused = await post(w.admin, `/settings/ca-accounts/${ca.id}/scope?scope=group&group=mvweb`, { scope: "instance", group: "mvweb", instance: lonely.instanceId }, { htmx: "" });
    expect(refused.status).toBe(422);
    const frag = await refused.text();
    const fieldError = frag.match(/<span class="field-error" id="err-scope"[^>]*>([^<]*)<\/span>/);
    expect(fieldError).not.toBeNull();
    expect(text(fieldError![1])).toContain('certificate "ca-page-mover"');
    expect(fieldError![1]).toContain("web-1.move.test");
    expect((await call(w.admin, "GET", `/api/v1/ca-accounts/${ca.id}`)).body).toMatchObject({ scope: "group", scopeId: "mvweb" });

    const ok = await post(w.admin, `/settings/ca-accounts/${ca.id}/scope?scope=group&group=mvweb`, { scope: "global", group: "mvweb", instance: lonely.instanceId });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/settings/ca-accounts?done=moved");
    expect((await call(w.admin, "GET", `/api/v1/ca-accounts/${ca.id}`)).body).toMatchObject({ scope: "global" });
    expect(text(await page(w.admin, "/settings/ca-accounts?done=moved"))).toContain("CA account moved.");
    expect((await syncConfig(lonely))!.caAccounts.map((a) => a.id)).toContain(ca.id);
  });
});

describe("a fleet larger than the picker's first page (160 instances)", () => {
  let big: World;
  let fleet: FakeAgent[];
  let n150: FakeAgent;
  beforeAll(async () => {
    big = await startWorld();
    fleet = [];
    for (let i = 1; i <= 160; i++) fleet.push(await addInstance(big, { group: "bulk", hostname: `fleet-${String(i).padStart(3, "0")}.many.test` }));
    n150 = fleet[149];
    expect((await call(big.admin, "PATCH", `/api/v1/instances/${n150.instanceId}`, { displayName: "Payroll box" })).status).toBe(200);
  }, 60_000);
  afterAll(() => big.hub.stop());

  /** A credential used by a certificate on instance #150 (so a move elsewhere than #150, its group or global is refused). */
  async function credentialFor150(title: string) {
    const cred = await call(big.admin, "POST", "/api/v1/credentials", { title, type: "tsig", scope: "global", secret: TSIG });
    expect(cred.status).toBe(201);
    const ca = await createCaAccount(big.admin);
    const cert = await call(big.admin, "POST", "/api/v1/managed-certificates", {
      instanceId: n150.instanceId,
      name: `${title.replace(/\W+/g, "-")}-cert`,
      domains: ["many.example.com"],
      caAccountId: ca.id,
      challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId: cred.body.id },
    });
    expect(cert.status).toBe(201);
    return cred.body.id as string;
  }
  const selected = (html: string) => [...html.matchAll(/<option value="([^"]+)" selected/g)].map((m) => m[1]);
  const options = (html: string) => [...html.matchAll(/<option value="(inst_[^"]+)"/g)].map((m) => m[1]);
  const checkedScope = (html: string) => /name="scope" value="(\w+)" checked/.exec(html)?.[1];

  test("the list alone stops at 100 without #150; Find by hostname picks it and the move lands (htmx)", async () => {
    const id = await credentialFor150("bulk tsig");
    const form = moveForm(await page(big.admin, "/settings/credentials"), id);
    expect(options(form)).toHaveLength(100);
    expect(options(form)).not.toContain(n150.instanceId);
    expect(text(form)).toContain("Showing the first 100 instances: Find instance reaches any other.");
    expect(form).toMatch(/<input type="search" name="find"[^>]*hx-post="\/settings\/credentials\/[^"]+\/scope"/);

    // Typing in Find instance: htmx posts op=find; the answer's choices hold #150, picked, and nothing moved.
    const action = `/settings/credentials/${id}/scope`;
    const found = await post(big.admin, action, { op: "find", find: "fleet-150", scope: "global", group: "bulk", instance: fleet[0].instanceId }, { htmx: "" });
    expect(found.status).toBe(200);
    const frag = await found.text();
    const fieldset = frag.slice(frag.indexOf("<fieldset"), frag.indexOf("</fieldset>"));
    expect(fieldset).toMatch(/id="move-settings-credentials-[\w-]+-scope"/);
    expect(options(fieldset)).toEqual([n150.instanceId]);
    expect(selected(fieldset)).toContain(n150.instanceId);
    expect(checkedScope(fieldset)).toBe("instance");
    expect(text(fieldset)).toContain(`fleet-150.many.test — Payroll box (${n150.instanceId})`);
    expect((await call(big.admin, "GET", `/api/v1/credentials/${id}`)).body.scope).toBe("global");

    // Move: lands on #150, and #150 still receives the secret.
    const moved = await post(big.admin, action, { find: "fleet-150", scope: "instance", group: "bulk", instance: n150.instanceId }, { htmx: "" });
    expect(moved.status).toBe(204);
    expect(moved.headers.get("hx-redirect")).toBe(`/settings/credentials?scope=instance&instance=${n150.instanceId}&done=moved`);
    expect((await call(big.admin, "GET", `/api/v1/credentials/${id}`)).body).toMatchObject({ scope: "instance", scopeId: n150.instanceId });
    expect((await syncConfig(n150))!.credentials).toEqual([{ id, type: "tsig", secret: TSIG }]);
  });

  test("Find matches display name and id too, with a bounded list; without JavaScript the Find button answers the whole page", async () => {
    const id = await credentialFor150("bulk tsig nojs");
    const action = `/settings/credentials/${id}/scope`;
    for (const find of ["Payroll", n150.instanceId.slice(-8)]) {
      const r = await post(big.admin, action, { op: "find", find, scope: "global", group: "bulk", instance: "" }, { htmx: "" });
      expect(r.status).toBe(200);
      const html = await r.text();
      expect({ find, options: options(html), selected: selected(html) }).toMatchObject({ find, options: [n150.instanceId], selected: expect.arrayContaining([n150.instanceId]) });
    }
    // A broad search is a bounded page of matches, and says so.
    const broad = await (await post(big.admin, action, { op: "find", find: "many.test", scope: "global", group: "bulk", instance: "" }, { htmx: "" })).text();
    expect(options(broad)).toHaveLength(100);
    expect(text(broad)).toContain("Showing the first 100 matches");
    const none = await (await post(big.admin, action, { op: "find", find: "no-such-host", scope: "global", group: "bulk", instance: "" }, { htmx: "" })).text();
    expect(text(none)).toContain("No instance matches “no-such-host”.");
    expect(checkedScope(none)).toBe("global");

    // A plain browser form (Enter in the search box presses Find, the form's first button): the
    // page, 200, that row's move form open with #150 picked; then Move.
    const plain = await post(big.admin, action, { op: "find", find: "fleet-150", scope: "global", group: "bulk", instance: fleet[0].instanceId });
    expect(plain.status).toBe(200);
    const form = moveForm(await plain.text(), id);
    expect(form).toMatch(/<details[^>]*open/);
    expect(selected(form)).toContain(n150.instanceId);
    expect(form).toMatch(/<button type="submit" name="op" value="find"[\s\S]*<button type="submit" class="small primary">\s*Move/);
    const moved = await post(big.admin, action, { find: "fleet-150", scope: "instance", group: "bulk", instance: n150.instanceId });
    expect(moved.status).toBe(303);
    expect((await call(big.admin, "GET", `/api/v1/credentials/${id}`)).body).toMatchObject({ scope: "instance", scopeId: n150.instanceId });
  });

  test("a refused move to another far instance keeps the search and the pick; a CA account reaches #150 the same way", async () => {
    const id = await credentialFor150("bulk tsig refused");
    const n151 = fleet[150];
    const refused = await post(big.admin, `/settings/credentials/${id}/scope`, { find: "fleet-15", scope: "instance", group: "bulk", instance: n151.instanceId }, { htmx: "" });
    expect(refused.status).toBe(422);
    const frag = await refused.text();
    expect(text(frag)).toContain("would lose access");
    expect(frag).toContain('value="fleet-15"');
    expect(options(frag)).toContain(n150.instanceId);
    expect(selected(frag)).toContain(n151.instanceId);
    expect((await call(big.admin, "GET", `/api/v1/credentials/${id}`)).body.scope).toBe("global");

    const ca = await createCaAccount(big.admin, { title: "Bulk CA" });
    const form = moveForm(await page(big.admin, "/settings/ca-accounts"), ca.id);
    expect(options(form)).not.toContain(n150.instanceId);
    const found = await (await post(big.admin, `/settings/ca-accounts/${ca.id}/scope`, { op: "find", find: "Payroll", scope: "global", group: "", instance: "" }, { htmx: "" })).text();
    expect(selected(found)).toContain(n150.instanceId);
    const moved = await post(big.admin, `/settings/ca-accounts/${ca.id}/scope`, { find: "Payroll", scope: "instance", group: "", instance: n150.instanceId }, { htmx: "" });
    expect(moved.status).toBe(204);
    expect((await call(big.admin, "GET", `/api/v1/ca-accounts/${ca.id}`)).body).toMatchObject({ scope: "instance", scopeId: n150.instanceId });
    expect((await syncConfig(n150))!.caAccounts.map((a) => a.id)).toContain(ca.id);
  });

  test.skipIf(!haveChromium)("in Chromium: typing in Find instance swaps in #150 (focus stays in the box), Enter only finds, Move lands", async () => {
    const id = await credentialFor150("bulk tsig browser");
    const problems: string[] = [];
    const { context, page: tab } = await openBrowser(problems);
    try {
      await tab.goto(`${big.hub.url}/login`);
      await signInAsAdmin(tab, big.hub.url);
      await tab.goto(`${big.hub.url}/settings/credentials`);
      const row = tab.locator(`tr[data-credential-id="${id}"]`);
      await row.locator("details.move-scope summary").click();
      const select = row.locator("select[name=instance]");
      expect(await select.locator(`option[value="${n150.instanceId}"]`).count()).toBe(0);

      const find = row.locator("input[name=find]");
      await find.pressSequentially("fleet-150", { delay: 20 });
      await tab.waitForFunction(
        ([rowId, inst]) => (document.querySelector(`tr[data-credential-id="${rowId}"] select[name=instance]`) as HTMLSelectElement | null)?.value === inst,
        [id, n150.instanceId],
      );
      expect(await tab.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe("find");
      expect(await row.locator("input[name=scope][value=instance]").isChecked()).toBe(true);

      // Enter in the search box presses Find (the form's first button), never Move.
      await find.fill("Payroll");
      await find.press("Enter");
      await row.locator(`select[name=instance] option[value="${n150.instanceId}"]`).waitFor({ state: "attached" });
      await tab.waitForLoadState("networkidle");
      expect((await call(big.admin, "GET", `/api/v1/credentials/${id}`)).body.scope).toBe("global");

      await tab.locator(`tr[data-credential-id="${id}"] details.move-scope button.primary`).click();
      await tab.waitForURL(/done=moved/);
      expect(tab.url()).toBe(`${big.hub.url}/settings/credentials?scope=instance&instance=${n150.instanceId}&done=moved`);
      expect((await call(big.admin, "GET", `/api/v1/credentials/${id}`)).body).toMatchObject({ scope: "instance", scopeId: n150.instanceId });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
