// "Move to another scope" on Settings › Stored Credentials and › Certificate Authorities,
// against an in-process hub: each own row has the move form (the scope picker's choices), a
// move lands where it was asked and the instance using the secret still gets it, a move that
// would strand a certificate shows the refusal on the scope field (htmx fragment and plain
// page) and changes nothing, and a Read-only Viewer gets no form and cannot post one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Session } from "../../../../helpers/session";
import type { FakeAgent } from "../../../agent-api.fixtures";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../../../core/fixtures";
import { page, post, readOnlyViewer, text } from "../helpers";

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
});
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
