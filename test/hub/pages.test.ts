// Admin pages over real HTTP: Dashboard, Security › Users, API Access, Audit log, Settings.
// Filtering and pagination, read-only users, form validation (errors shown, values kept,
// nothing written, never a 5xx) and the show-once token secret.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { insertInstance, newInstanceId } from "../../src/db/instances";
import { ADMIN_PASSWORD } from "../helpers";
import { basicAuth, login, signIn, startTestHub, type Session, type TestHub } from "../helpers/session";

let hub: TestHub;
let admin: Session;
let viewer: Session;
const VIEWER_PASSWORD = "viewer-password-123";

type Fields = Record<string, string | string[]>;

function body(fields: Fields) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of ([] as string[]).concat(v)) p.append(k, x);
  return p;
}

/** A form post as htmx sends it (CSRF header, HX-Request, HX-Target) or as a plain browser form (CSRF field). */
function post(s: Session, path: string, fields: Fields, opts: { htmx?: string } = {}) {
  if (opts.htmx) {
    return s.fetch(path, { method: "POST", body: body(fields), headers: { "hx-request": "true", "hx-target": opts.htmx } });
  }
  return s.fetch(path, { method: "POST", body: body({ ...fields, _csrf: s.csrf }), csrf: false });
}

const partial = (s: Session, path: string, target: string) => s.fetch(path, { headers: { "hx-request": "true", "hx-target": target } });

async function count(table: string, where = "1=1") {
  const [row] = await hub.deps.db.all<{ n: number }>(sql.raw(`select count(*) as n from ${table} where ${where}`));
  return Number(row.n);
}

const SECRET_RE = /chub_sk_[a-z0-9]+/g;

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
  const res = await post(admin, "/settings/users", { type: "user", username: "viewer", password: VIEWER_PASSWORD, role: "readonly", title: "", email: "" });
  expect(res.status).toBe(303);
  viewer = await signIn(hub.url, "viewer", VIEWER_PASSWORD);
});
afterAll(() => hub.stop());

describe("every page renders", () => {
  const pages = ["/", "/settings", "/settings/users", "/settings/api-access", "/audit", "/settings/users?add=1", "/settings/api-access?add=1"];

  test("for an administrator, with the write controls", async () => {
    for (const p of pages) {
      const res = await admin.fetch(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await res.text();
      expect(html).toContain(`<nav id="main-nav" aria-label="Main">`);
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline scripts
      expect(html).not.toMatch(/\sstyle=/); // no inline styles
    }
    const users = await (await admin.fetch("/settings/users")).text();
    // Plain verbs on the buttons; the seed's names stay where admins coming from it look, explained in one line.
    expect(users).toContain(">Add user or service</a>");
    expect(users).toContain("Add New Security Principal");
    expect(users).toMatch(/A <strong>Security Principal<\/strong> is anyone or anything that acts on the hub/);
    const tokens = await (await admin.fetch("/settings/api-access")).text();
    expect(tokens).toContain(">Add joining key / API token</a>");
    expect(tokens).toContain("Add API Token");
  });

  test("for a read-only viewer, without them", async () => {
    for (const p of pages) expect((await viewer.fetch(p)).status, p).toBe(200);
    const users = await (await viewer.fetch("/settings/users")).text();
    expect(users).not.toContain('data-open="#add-principal"');
    expect(users).toContain("Read-only access");
    const tokens = await (await viewer.fetch("/settings/api-access")).text();
    expect(tokens).not.toContain('data-open="#add-token"');
    expect(tokens).not.toContain("/revoke");
  });

  test("unauthenticated requests go to the sign-in page", async () => {
    const res = await fetch(`${hub.url}/settings/api-access`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?next=%2Fsettings%2Fapi-access");
  });
});

describe("read-only users cannot change anything", () => {
  test("every form post is refused with 403 and nothing is written", async () => {
    const tokens = await count("api_tokens");
    const principals = await count("principals");
    const [adminRow] = await hub.deps.db.all<{ id: string }>(sql`select principal_id as id from users where username = 'admin'`);
    const attempts: [string, Fields][] = [
      ["/settings/api-access", { principalId: adminRow.id, title: "sneaky", role: "administrator" }],
      ["/settings/users", { type: "user", username: "sneaky", password: "long-enough-password", role: "administrator" }],
      [`/settings/users/${adminRow.id}`, { title: "x", description: "", email: "", disabled: "on" }],
      [`/settings/users/${adminRow.id}/roles`, { roles: "readonly" }],
      [`/settings/users/${adminRow.id}/password`, { password: "long-enough-password", confirm: "long-enough-password" }],
      ["/dashboard/joining-key", {}],
    ];
    for (const [path, fields] of attempts) {
      expect((await post(viewer, path, fields)).status, path).toBe(403);
      expect((await post(viewer, path, fields, { htmx: "x" })).status, path).toBe(403);
    }
    // The edit forms are not offered either.
    for (const form of ["edit", "roles", "password"]) expect((await viewer.fetch(`/settings/users/${adminRow.id}/${form}`)).status, form).toBe(403);
    expect(await count("api_tokens")).toBe(tokens);
    expect(await count("principals")).toBe(principals);
    expect(await count("principal_roles", `principal_id = '${adminRow.id}' and role_id = 'administrator'`)).toBe(1);
  });

  test("a post without the CSRF token is refused even for an administrator", async () => {
    const res = await admin.fetch("/settings/users", { method: "POST", body: body({ type: "service", title: "no-csrf" }), csrf: false });
    expect(res.status).toBe(403);
    expect(await count("principals", "title = 'no-csrf'")).toBe(0);
  });
});

describe("Security › Users", () => {
  test("filter by type and text, paginate, and refresh just the table with htmx", async () => {
    for (let i = 0; i < 30; i++) {
      const res = await post(admin, "/settings/users", { type: "service", title: `svc-${String(i).padStart(2, "0")}`, description: "bulk" }, { htmx: "add-principal-body" });
      expect(res.status).toBe(200);
    }
    const page1 = await (await admin.fetch("/settings/users?type=service")).text();
    expect(page1).toContain("svc-00");
    expect(page1).not.toContain(">viewer<"); // users filtered out
    expect(page1).toMatch(/1–25 of 31/); // 30 + the managed-instance principal
    expect(page1).toContain('href="/settings/users?type=service&amp;page=2"');

    const page2 = await partial(admin, "/settings/users?type=service&page=2", "principals-table");
    expect(page2.status).toBe(200);
    expect(page2.headers.get("vary")).toContain("HX-Target");
    const html2 = await page2.text();
    expect(html2).toStartWith('<div id="principals-table"');
    expect(html2).not.toContain("<html");
    expect(html2).toMatch(/26–31 of 31/);
    expect(html2).toContain("svc-29");
    expect(html2).not.toContain("svc-00");

    const q = await (await partial(admin, "/settings/users?q=svc-1", "principals-table")).text();
    expect((q.match(/data-principal-id=/g) ?? []).length).toBe(10);
    expect(q).not.toContain("svc-2");

    const none = await (await admin.fetch("/settings/users?q=no-such-thing")).text();
    expect(none).toContain("No security principals match this filter.");
    const past = await (await admin.fetch("/settings/users?page=40")).text();
    expect(past).toContain("This page is past the end of the list.");
    // Junk query values are ignored, not errors.
    expect((await admin.fetch("/settings/users?page=-4&type=robot&q=%00")).status).toBe(200);
  });

  test("a bad new user shows errors inline, keeps the values, never the password, and writes nothing", async () => {
    const before = await count("principals");
    const audits = await count("audit_log", "action = 'principal.create'");
    const res = await post(admin, "/settings/users", { type: "user", username: "bad name!", password: "short", email: "not-an-email", role: "administrator", title: "Kept title" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("Use letters, digits and . _ @ - only");
    expect(html).toContain("At least 12 characters");
    expect(html).toContain("Enter a valid email address");
    expect(html).toContain('value="bad name!"');
    expect(html).toContain('value="Kept title"');
    expect(html).not.toContain("short");
    expect(html).toMatch(/<dialog id="add-principal" open/); // plain post: the form stays visible

    const hx = await post(admin, "/settings/users", { type: "service", title: "", description: "x".repeat(600) }, { htmx: "add-principal-body" });
    expect(hx.status).toBe(422);
    const frag = await hx.text();
    expect(frag).not.toContain("<html");
    expect(frag).toContain("Enter a title");
    expect(frag).toContain("At most 500 characters");

    expect((await post(admin, "/settings/users", { type: "robot" })).status).toBe(422);
    // Not a form at all: still a clean 4xx.
    const json = await admin.fetch("/settings/users", { method: "POST", body: JSON.stringify({ type: "user" }), headers: { "content-type": "application/json" } });
    expect(json.status).toBe(422);
    const taken = await post(admin, "/settings/users", { type: "user", username: "ADMIN", password: "long-enough-password", role: "readonly" });
    expect(taken.status).toBe(422);
    expect(await taken.text()).toContain("This username is taken");

    expect(await count("principals")).toBe(before);
    expect(await count("audit_log", "action = 'principal.create'")).toBe(audits);
  });

  test("create a user, edit and disable them (ending their sessions), assign roles, reset the password", async () => {
    const created = await post(admin, "/settings/users", { type: "user", username: "carol", password: "carol-password-1", role: "readonly", email: "carol@example.test", title: "" }, { htmx: "add-principal-body" });
    expect(created.status).toBe(200);
    expect(created.headers.get("hx-trigger")).toContain("principals-changed");
    expect(created.headers.get("hx-trigger")).toContain("close-dialog");
    const frag = await created.text();
    expect(frag).toMatch(/<div id="flash"[^>]*hx-swap-oob="true"/);
    expect(frag).toContain('name="username" autocomplete="off" value=""'); // a fresh form for the next one
    const [row] = await hub.deps.db.all<{ id: string }>(sql`select principal_id as id from users where username = 'carol'`);
    const carol = await signIn(hub.url, "carol", "carol-password-1");

    // Edit form loads into the dialog (fragment) or as its own page.
    const form = await partial(admin, `/settings/users/${row.id}/edit`, "principal-dialog-body");
    expect(await form.text()).toContain('value="carol@example.test"');
    expect(await (await admin.fetch(`/settings/users/${row.id}/edit`)).text()).toContain("<html");

    const bad = await post(admin, `/settings/users/${row.id}`, { title: "", description: "", email: "nope", disabled: "on" }, { htmx: "principal-dialog-body" });
    expect(bad.status).toBe(422);
    expect((await carol.fetch("/")).status).toBe(200); // nothing changed

    const ok = await post(admin, `/settings/users/${row.id}`, { title: "Carol", description: "ops", email: "", disabled: "on" }, { htmx: "principal-dialog-body" });
    expect(ok.status).toBe(200);
    expect((await carol.fetch("/", { redirect: "manual" })).status).toBe(302); // signed out
    expect((await login(hub.url, "carol", "carol-password-1")).status).toBe(401);
    const list = await (await admin.fetch("/settings/users?q=carol")).text();
    expect(list).toContain("disabled");

    // Re-enable (plain post → redirect with a message).
    const enable = await post(admin, `/settings/users/${row.id}`, { title: "Carol", description: "ops", email: "" });
    expect(enable.status).toBe(303);
    expect(enable.headers.get("location")).toBe("/settings/users?done=updated");
    expect(await (await admin.fetch("/settings/users?done=updated")).text()).toContain("Changes saved.");

    // Roles dialog: two roles at once, as a plain form post (repeated checkbox fields).
    const roles = await post(admin, `/settings/users/${row.id}/roles`, { roles: ["administrator", "readonly"] });
    expect(roles.status).toBe(303);
    expect(await count("principal_roles", `principal_id = '${row.id}'`)).toBe(2);
    expect((await post(admin, `/settings/users/${row.id}/roles`, { roles: ["superuser"] })).status).toBe(422);
    expect(await count("principal_roles", `principal_id = '${row.id}'`)).toBe(2);

    // Password reset.
    const mismatch = await post(admin, `/settings/users/${row.id}/password`, { password: "carol-new-password", confirm: "different-password" });
    expect(mismatch.status).toBe(422);
    expect(await mismatch.text()).toContain("The two passwords differ");
    expect((await post(admin, `/settings/users/${row.id}/password`, { password: "carol-new-password", confirm: "carol-new-password" })).status).toBe(303);
    expect((await login(hub.url, "carol", "carol-new-password")).status).toBe(303);

    const actions = (await hub.deps.db.all<{ action: string }>(sql`select action from audit_log where target_id = ${row.id} order by id`)).map((r) => r.action);
    expect(actions).toEqual(["principal.create", "principal.update", "principal.update", "principal.roles", "principal.password-reset"]);
  });

  test("you cannot disable yourself or drop your own administrator role", async () => {
    const [me] = await hub.deps.db.all<{ id: string }>(sql`select principal_id as id from users where username = 'admin'`);
    // The checkbox is rendered disabled for yourself; a forged post still cannot do it.
    expect(await (await admin.fetch(`/settings/users/${me.id}/edit`)).text()).toMatch(/name="disabled"[^>]*disabled/);
    const roles = await post(admin, `/settings/users/${me.id}/roles`, { roles: "readonly" }, { htmx: "principal-dialog-body" });
    expect(roles.status).toBe(422);
    expect(await roles.text()).toContain("You cannot remove your own administrator role");
    expect(await count("principal_roles", `principal_id = '${me.id}' and role_id = 'administrator'`)).toBe(1);
    expect((await admin.fetch("/")).status).toBe(200);
  });

  test("unknown principals answer 404, not 500", async () => {
    expect((await admin.fetch("/settings/users/p_nope/edit")).status).toBe(404);
    expect((await post(admin, "/settings/users/p_nope", { title: "x" })).status).toBe(404);
    expect((await post(admin, "/settings/users/p_nope/roles", { roles: "readonly" })).status).toBe(404);
  });
});

describe("API Access", () => {
  async function managedPrincipal() {
    const [p] = await hub.deps.db.all<{ id: string }>(sql`select id from principals where title = 'Hub Managed Instance'`);
    return p.id;
  }

  test("the secret appears in the create response only, with the join commands filled in", async () => {
    const principalId = await managedPrincipal();
    const res = await post(admin, "/settings/api-access", { principalId, title: "Rack 7 key", role: "managed-instance", group: "rack-7", expiresInDays: "30", expiresOn: "", maxUses: "5" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    const secrets = [...new Set(html.match(SECRET_RE))];
    expect(secrets.length).toBe(1);
    const secret = secrets[0];
    const clientId = html.match(/id="new-client-id">(chub_id_[a-z0-9]+)</)![1];
    expect(html).toContain(`certhub hub join ${hub.url} ${clientId} ${secret}`);
    expect(html).toContain(`curl -X POST http://127.0.0.2:9696/api/system/hub/join`);
    expect(html).toContain(`{&quot;clientId&quot;:&quot;${clientId}&quot;,&quot;secret&quot;:&quot;${secret}&quot;,&quot;url&quot;:&quot;${hub.url}&quot;}`);

    // Never again: not on the page, not in its table fragment, not in the audit log.
    for (const path of ["/settings/api-access", "/settings/api-access?q=rack", "/", "/audit"]) {
      const again = await (await admin.fetch(path)).text();
      expect(again, path).not.toContain(secret);
    }
    const table = await (await partial(admin, "/settings/api-access?q=Rack", "tokens-table")).text();
    expect(table).toContain(clientId);
    expect(table).toContain("group rack-7");
    expect(table).toContain("0 / 5");
    expect(table).toMatch(/<time[^>]*>in (30|29) d<\/time>/);
    expect(table).not.toMatch(SECRET_RE);

    const [audit] = await hub.deps.db.all<{ detail: string }>(sql`select detail from audit_log where action = 'token.create' and target_id = ${clientId}`);
    expect(JSON.parse(audit.detail)).toMatchObject({ title: "Rack 7 key", role: "managed-instance", group: "rack-7", maxUses: 5 });
  });

  test("an administrator token created through htmx works for the JSON API", async () => {
    const [me] = await hub.deps.db.all<{ id: string }>(sql`select principal_id as id from users where username = 'admin'`);
    const res = await post(admin, "/settings/api-access", { principalId: me.id, title: "CI token", role: "administrator", group: "", expiresInDays: "", expiresOn: "2999-12-31", maxUses: "" }, { htmx: "add-token-body" });
    expect(res.status).toBe(201);
    expect(res.headers.get("hx-trigger")).toContain("tokens-changed");
    const frag = await res.text();
    expect(frag).toContain('<div id="token-created" hx-swap-oob="true">');
    expect(frag).toContain('hx-history="false"'); // htmx must not snapshot the secret into localStorage
    const clientId = frag.match(/id="new-client-id">(chub_id_[a-z0-9]+)</)![1];
    const secret = frag.match(SECRET_RE)![0];
    expect(frag).toContain(`curl -u &#39;${clientId}:${secret}&#39; ${hub.url}/api/v1/instances`);
    expect(frag).not.toContain("hub join"); // not a joining key
    const api = await fetch(`${hub.url}/api/v1/instances`, { headers: basicAuth(clientId, secret) });
    expect(api.status).toBe(200);
  });

  test("bad input shows errors next to the fields, keeps the values, and writes nothing", async () => {
    const principalId = await managedPrincipal();
    const before = await count("api_tokens");
    const cases: [Fields, string[]][] = [
      [{ principalId: "", title: "", role: "managed-instance" }, ["Pick a security principal", "Enter a title"]],
      [{ principalId, title: "x", role: "root" }, ["Pick a scoped role"]],
      [{ principalId, title: "x", role: "managed-instance", expiresInDays: "ten" }, ["Enter whole days between 1 and 3650"]],
      [{ principalId, title: "x", role: "managed-instance", expiresInDays: "5", expiresOn: "2999-01-01" }, ["not both"]],
      [{ principalId, title: "x", role: "managed-instance", expiresOn: "2001-01-01" }, ["Pick a date from today on"]],
      [{ principalId, title: "x", role: "managed-instance", maxUses: "0" }, ["Enter a whole number from 1"]],
      [{ principalId, title: "x".repeat(5000), role: "managed-instance" }, ["At most 100 characters"]],
      // The managed-instance principal does not hold the administrator role.
      [{ principalId, title: "Kept value", role: "administrator", group: "g1" }, ["does not hold the role", 'value="Kept value"', 'value="g1"']],
      [{ principalId: "p_missing", title: "x", role: "managed-instance" }, ["No such principal"]],
    ];
    for (const [fields, expected] of cases) {
      for (const htmx of [undefined, "add-token-body"]) {
        const res = await post(admin, "/settings/api-access", { group: "", expiresInDays: "", expiresOn: "", maxUses: "", ...fields }, { htmx });
        expect(res.status, JSON.stringify(fields)).toBe(422);
        const html = await res.text();
        for (const e of expected) expect(html, JSON.stringify(fields)).toContain(e);
        expect(html).not.toMatch(SECRET_RE);
      }
    }
    expect(await count("api_tokens")).toBe(before);
  });

  test("retire keeps the key listed as retired; revoke cuts it off; both audited", async () => {
    const principalId = await managedPrincipal();
    const mk = async (title: string) => {
      const html = await (await post(admin, "/settings/api-access", { principalId, title, role: "managed-instance" })).text();
      const [, id] = html.match(new RegExp(`data-token-id="(tok_[a-z0-9]+)" data-client-id="[^"]+">\\s*<td>${title}`))!;
      return id;
    };
    const retireId = await mk("Old key");
    const revokeId = await mk("Leaked key");

    const retired = await post(admin, `/settings/api-access/${retireId}/retire`, {}, { htmx: "flash" });
    expect(retired.status).toBe(200);
    expect(retired.headers.get("hx-trigger")).toContain("tokens-changed");
    expect(await retired.text()).toContain("Token retired");
    const revoked = await post(admin, `/settings/api-access/${revokeId}/revoke`, {});
    expect(revoked.status).toBe(303);

    const table = await (await partial(admin, "/settings/api-access?q=key", "tokens-table")).text();
    expect(table).toMatch(/Old key[\s\S]*?badge retired/);
    expect(table).toMatch(/Leaked key[\s\S]*?badge revoked/);
    // The revoke button confirms and says what it cuts off.
    expect(table).toContain("every instance that joined with it");
    const actions = (await hub.deps.db.all<{ action: string }>(sql`select action from audit_log where action in ('token.retire','token.revoke')`)).map((r) => r.action);
    expect(actions).toContain("token.retire");
    expect(actions).toContain("token.revoke");
    expect((await post(admin, "/settings/api-access/tok_nope/revoke", {}, { htmx: "flash" })).status).toBe(404);
  });

  test("filter by role and paginate", async () => {
    const principalId = await managedPrincipal();
    for (let i = 0; i < 26; i++) await post(admin, "/settings/api-access", { principalId, title: `bulk-${i}`, role: "managed-instance" }, { htmx: "add-token-body" });
    const admins = await (await admin.fetch("/settings/api-access?role=administrator")).text();
    expect(admins).toContain("CI token");
    expect(admins).not.toContain("bulk-1");
    const page2 = await (await partial(admin, "/settings/api-access?q=bulk&page=2", "tokens-table")).text();
    expect(page2).toMatch(/26–26 of 26/);
  });
});

describe("Dashboard", () => {
  test("a hub without instances says how to join the first one; a new key's secret shows once", async () => {
    const fresh = await startTestHub();
    try {
      const s = await signIn(fresh.url);
      const html = await (await s.fetch("/")).text();
      expect(html).toContain("Join your first instance");
      const [key] = await fresh.deps.db.all<{ clientId: string }>(sql`select client_id as clientId from api_tokens`);
      expect(html).toContain(`certhub hub join ${fresh.url} ${key.clientId} &lt;secret&gt;`);
      expect(html).toContain("Create a new joining key");
      expect(html).not.toMatch(SECRET_RE);

      const res = await s.fetch("/dashboard/joining-key", { method: "POST", headers: { "hx-request": "true", "hx-target": "join-panel" } });
      expect(res.status).toBe(201);
      const panel = await res.text();
      const secret = panel.match(SECRET_RE)![0];
      expect(panel).toMatch(new RegExp(`certhub hub join ${fresh.url} chub_id_[a-z0-9]+ ${secret}`));
      expect(await fresh.deps.db.all(sql`select 1 from api_tokens`)).toHaveLength(2);
      expect(await (await s.fetch("/")).text()).not.toContain(secret);
      expect(await (await s.fetch("/")).text()).toMatch(/Active joining keys/);
    } finally {
      await fresh.stop();
    }
  });
});

describe("Audit log", () => {
  test("filters by text and pages to older entries by id", async () => {
    const all = await (await admin.fetch("/audit")).text();
    const ids = [...all.matchAll(/data-audit-id="(\d+)"/g)].map((m) => Number(m[1]));
    expect(ids.length).toBe(50);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const older = all.match(/href="(\/audit\?before=\d+)"/)![1];
    expect(Number(older.split("=")[1])).toBe(ids[49]);
    const next = await (await partial(admin, older, "audit-table")).text();
    const nextIds = [...next.matchAll(/data-audit-id="(\d+)"/g)].map((m) => Number(m[1]));
    expect(nextIds.length).toBeGreaterThan(0);
    expect(Math.max(...nextIds)).toBeLessThan(ids[49]);
    expect(next).toContain("« Newest");

    const filtered = await (await admin.fetch("/audit?q=token.revoke")).text();
    expect(filtered).toContain("token.revoke");
    expect(filtered).not.toContain("principal.create");
    expect(filtered).toContain("End of the log.");
    expect((await admin.fetch("/audit?before=abc")).status).toBe(200);
  });

  test("sign-in failures are listed with their outcome", async () => {
    await login(hub.url, "admin", "wrong-password-here");
    const html = await (await admin.fetch("/audit?q=login.failure")).text();
    expect(html).toMatch(/login\.failure[\s\S]*?badge failure/);
    await signIn(hub.url, "admin", ADMIN_PASSWORD);
  });
});

describe("Settings", () => {
  test("the sub-navigation links every settings page, and the scope picker explains an empty fleet", async () => {
    const html = await (await admin.fetch("/settings")).text();
    for (const href of ["/settings/ca-accounts", "/settings/credentials", "/settings/external-managers", "/settings/users", "/settings/api-access"]) expect(html).toContain(`href="${href}"`);
    expect(html).toContain("No instances have joined yet");
    expect(html).toContain("Showing settings for <strong>All instances</strong>");
  });
});

describe("with a joined instance", () => {
  test("the dashboard counts it and the settings page offers it as target instance", async () => {
    const id = newInstanceId();
    await insertInstance(hub.deps.db, id, {
      hostname: "web-01.example.test",
      os: "linux",
      arch: "x64",
      version: "0.1.0",
      publicKey: "test-public-key",
      joiningKeyId: null,
      groupName: null,
      syncIntervalSeconds: 60,
    });
    const dash = await (await admin.fetch("/")).text();
    expect(dash).not.toContain("Join your first instance");
    expect(dash).toContain("Join another instance");
    expect(dash).toMatch(/href="\/instances">1</);
    expect(dash).toContain("1 online");

    const settings = await (await admin.fetch("/settings")).text();
    expect(settings).toContain("Target Instance");
    expect(settings).toContain(`<option value="${id}">web-01.example.test`);
    const scoped = await (await admin.fetch(`/settings?instance=${id}`)).text();
    expect(scoped).toContain(`<option value="${id}" selected="">web-01.example.test`);
    expect(scoped).toContain(`href="/instances/${id}"`);
    expect(await (await admin.fetch("/settings?instance=inst_gone")).text()).toContain("No instance with id inst_gone");
  });
});

test("every full page starts with <!DOCTYPE html> (standards mode, not quirks)", async () => {
  const hub = await startTestHub();
  try {
    const s = await signIn(hub.url);
    for (const path of ["/login", "/", "/instances", "/certificates", "/settings", "/account", "/no-such-page"]) {
      const res = path === "/login" ? await fetch(`${hub.url}${path}`) : await s.fetch(path);
      expect({ path, start: (await res.text()).slice(0, 15) }).toEqual({ path, start: "<!DOCTYPE html>" });
    }
  } finally {
    await hub.stop();
  }
});
