// The instance pages and the small things of "the first hour as an admin" (issue 12), over
// real HTTP against an in-process hub: a key-revoked instance says why and the way back and
// refuses commands (API and page alike); the command form offers only what can act, keeps
// what was typed after an error and refuses run-script for hosts without scripts; reinstated
// is not online before the agent syncs; outcome messages never come from the URL; display
// name and labels; styled 404; audit words; plural labels; empty states; lockout message;
// revoked keys can be hidden.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { insertInstance, newInstanceId, updateInstance } from "../../../../src/db/instances";
import { apiTokens } from "../../../../src/db/schema";
import { login, signIn, startTestHub, type Session, type TestHub } from "../../../helpers/session";

let hub: TestHub;
let admin: Session;

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

async function newKey(title: string) {
  const res = await admin.json("/api/v1/tokens", "POST", { title });
  expect(res.status).toBe(201);
  const k = (await res.json()) as { id: string; clientId: string };
  return k;
}

async function newInstance(opts: { hostname?: string; keyId?: string | null; allowScripts?: boolean | null } = {}) {
  const id = newInstanceId();
  await insertInstance(hub.deps.db, id, {
    hostname: opts.hostname ?? "vm",
    os: "Debian GNU/Linux 12",
    arch: "x64",
    version: "0.1.0",
    publicKey: generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x!,
    joiningKeyId: opts.keyId ?? null,
    groupName: null,
    syncIntervalSeconds: 60,
  });
  if (opts.allowScripts !== undefined) await updateInstance(hub.deps.db, id, { allowScripts: opts.allowScripts });
  return id;
}

const page = async (s: Session, path: string) => {
  const res = await s.fetch(path);
  return { status: res.status, html: await res.text(), res };
};

/** A form post as a plain browser sends it (CSRF field), or as htmx does (header). */
function post(path: string, fields: Record<string, string>, htmx = false) {
  const body = new URLSearchParams(fields);
  if (htmx) return admin.fetch(path, { method: "POST", body, headers: { "hx-request": "true" } });
  body.set("_csrf", admin.csrf);
  return admin.fetch(path, { method: "POST", body, csrf: false });
}

/** A page fetched with the flash cookie a redirect set, as the browser sends it back. */
async function withFlash(path: string, from: Response) {
  const res = await fetch(`${hub.url}${path}`, { headers: { cookie: `${admin.cookie}; ${cookieFrom(from)}` }, redirect: "manual" });
  return { res, html: await res.text() };
}

/** The flash cookie a redirect set. */
function cookieFrom(res: Response) {
  const c = (res.headers.get("set-cookie") ?? "").split(",").map((s) => s.trim()).find((s) => s.startsWith("certhub_flash="));
  return c ? c.split(";")[0] : "";
}

describe("an instance cut off by its joining key's revocation (#4)", () => {
  test("shows why and the way back, offers only Remove, and every path refuses commands with that reason", async () => {
    const key = await newKey("Cut-off key");
    const id = await newInstance({ hostname: "cut-off-host", keyId: key.id });
    expect((await admin.fetch(`/api/v1/tokens/${key.clientId}/revoke`, { method: "POST" })).status).toBe(200);

    const { html } = await page(admin, `/instances/${id}`);
    expect(html).toContain('id="cut-off"');
    expect(html).toContain("its joining key &quot;Cut-off key&quot;");
    expect(html).toContain("remove the instance here and join the agent again with another joining key");
    expect(html).toContain(`action="/instances/${id}/remove"`);
    for (const gone of [`/instances/${id}/revoke`, `/instances/${id}/reset-identity`, `/instances/${id}/reinstate`, `/instances/${id}/renew-now`, `action="/instances/${id}/commands"`]) {
      expect(html).not.toContain(gone);
    }

    const api = await admin.json(`/api/v1/instances/${id}/commands`, "POST", { type: "ping" });
    expect(api.status).toBe(409);
    expect((await api.json()).error).toContain("joining key");

    const before = await hub.deps.db.all<{ n: number }>(sql`select count(*) as n from commands where instance_id = ${id}`);
    const res = await post(`/instances/${id}/commands`, { type: "ping", payload: "" }, true);
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("was revoked");
    const after = await hub.deps.db.all<{ n: number }>(sql`select count(*) as n from commands where instance_id = ${id}`);
    expect(Number(after[0].n)).toBe(Number(before[0].n));
  });
});

describe("sending a command (#9)", () => {
  test("human labels, only what can act now, and the reasons for what is left out", async () => {
    const id = await newInstance({ allowScripts: false });
    const { html } = await page(admin, `/instances/${id}`);
    const form = html.slice(html.indexOf('id="queue-command"'), html.indexOf("</details>", html.indexOf('id="queue-command"')));
    // With the instance's actions, before the live lists.
    expect(html.indexOf('id="queue-command"')).toBeLessThan(html.indexOf('id="instance-live"'));
    expect(form).toContain("Check the connection (ping)");
    // Each action's word explained in one line beside the buttons (#8).
    expect(html).toContain("<strong>Reset identity</strong> makes the agent create a new key pair");
    expect(form).toContain("Set agent settings (advanced)");
    expect(form).not.toContain('value="renew-now"'); // no certificates yet
    expect(form).toContain("Renewing is offered once this instance has certificates.");
    expect(form).not.toContain('value="run-script"');
    expect(form).toContain("did not allow scripts");
    expect(form).not.toContain('value="renew-certificate"');
    // Nothing found by the external scan yet: no rescan in the form, and why.
    expect(form).not.toContain('value="refresh-external-scan"');
    expect(form).toContain("Rescanning is offered once the agent has found an external certificate manager");
    // No "Renew now" button either while there is nothing to renew (#6).
    expect(html).not.toContain(`/instances/${id}/renew-now`);
  });

  test("an error keeps what was typed; the hub checks payload shape; a good command is queued", async () => {
    const id = await newInstance({ allowScripts: true });
    const typed = '{"values": {"renewalDays": 30}';
    const bad = await post(`/instances/${id}/commands`, { type: "update-settings", payload: typed }, true);
    expect(bad.status).toBe(422);
    const fragment = await bad.text();
    expect(fragment).toContain("not valid JSON");
    expect(fragment).toContain("{&quot;values&quot;: {&quot;renewalDays&quot;: 30}</textarea>");
    expect(fragment).toContain('<option value="update-settings" selected="">');

    // Shape: update-settings needs {"values": {…}} — refused before it is stored.
    const shape = await post(`/instances/${id}/commands`, { type: "update-settings", payload: '{"renewalDays": 30}' }, true);
    expect(shape.status).toBe(422);
    expect(await shape.text()).toContain("The payload for update-settings is not right");
    const api = await admin.json(`/api/v1/instances/${id}/commands`, "POST", { type: "run-script", payload: { script: "" } });
    expect(api.status).toBe(400);

    // Without JavaScript: the whole page, the form open with the error and the typed text.
    const plain = await post(`/instances/${id}/commands`, { type: "run-script", payload: "{oops" });
    expect(plain.status).toBe(422);
    const full = await plain.text();
    expect(full).toContain('<details class="card" id="queue-command" open="">');
    expect(full).toContain("{oops</textarea>");

    const ok = await post(`/instances/${id}/commands`, { type: "ping", payload: "" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/instances/${id}`); // nothing in the URL
    expect((await withFlash(`/instances/${id}`, ok)).html).toContain("Queued “Check the connection (ping)” (#1)");
  });

  test("run-script is refused for an agent that reported scripts disabled, saying why", async () => {
    const id = await newInstance({ allowScripts: false });
    const res = await admin.json(`/api/v1/instances/${id}/commands`, "POST", { type: "run-script", payload: { script: "id" } });
    expect(res.status).toBe(409);
    expect((await res.json()).error).toContain("--allow-scripts");
    const page = await post(`/instances/${id}/commands`, { type: "run-script", payload: '{"script": "id"}' }, true);
    expect(page.status).toBe(422);
    expect(await page.text()).toContain("--allow-scripts");
  });
});

describe("reinstate (#3)", () => {
  test("a reinstated instance is not online until the agent has synced again", async () => {
    const id = await newInstance({ hostname: "reinstated-host" });
    expect((await admin.fetch(`/api/v1/instances/${id}/revoke`, { method: "POST" })).status).toBe(200);
    expect((await (await admin.fetch(`/api/v1/instances/${id}`)).json()).status).toBe("revoked");
    expect((await admin.fetch(`/api/v1/instances/${id}/reinstate`, { method: "POST" })).status).toBe(200);
    // Last seen a moment ago, before the reinstatement: still offline, in the list's SQL too.
    expect((await (await admin.fetch(`/api/v1/instances/${id}`)).json()).status).toBe("offline");
    const list = await (await admin.fetch(`/api/v1/instances?status=online&q=reinstated-host`)).json();
    expect(JSON.stringify(list)).not.toContain(id);
    expect((await page(admin, `/instances/${id}`)).html).toContain("Reinstated — waiting for the agent to sync again");
    // The agent's next contact (a heartbeat after the reinstatement) makes it online.
    const inst = await hub.deps.fleet.getInstance(id);
    hub.deps.fleet.recordSeen(inst!, "127.0.0.1", Date.now() + 5);
    await Bun.sleep(10);
    expect((await (await admin.fetch(`/api/v1/instances/${id}`)).json()).status).toBe("online");
    expect((await page(admin, `/instances/${id}`)).html).not.toContain("waiting for the agent");
  });
});

describe("messages from the URL (#11)", () => {
  test("?error= and ?done= are not shown; an action's outcome is shown once from the flash cookie", async () => {
    const id = await newInstance();
    const lure = "Your hub was compromised: call 555-0100";
    for (const q of ["error", "done"]) {
      const { html } = await page(admin, `/instances/${id}?${q}=${encodeURIComponent(lure)}`);
      expect(html).not.toContain("compromised");
      const list = await page(admin, `/instances?${q}=${encodeURIComponent(lure)}`);
      expect(list.html).not.toContain("compromised");
    }
    const res = await post(`/instances/${id}/revoke`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/instances/${id}`);
    const flash = cookieFrom(res);
    expect(flash).toStartWith("certhub_flash=");
    expect(res.headers.get("set-cookie")).toContain("HttpOnly");
    const shown = await withFlash(`/instances/${id}`, res);
    expect(shown.html).toContain("Instance revoked: its next request is refused.");
    // Read once: the response clears it.
    expect(shown.res.headers.get("set-cookie")).toMatch(/certhub_flash=;.*Max-Age=0/);

    // "Refresh now" of the external managers answers the same way (a revoked instance: the refusal).
    const refresh = await post(`/instances/${id}/external-refresh`, {});
    expect(refresh.status).toBe(303);
    expect(refresh.headers.get("location")).toBe(`/instances/${id}`);
    expect((await withFlash(`/instances/${id}`, refresh)).html).toContain("is revoked; reinstate it first.");
    await post(`/instances/${id}/reinstate`, {});
    const queued = await post(`/instances/${id}/external-refresh`, {});
    expect(queued.headers.get("location")).toBe(`/instances/${id}`);
    expect((await withFlash(`/instances/${id}`, queued)).html).toContain("Refresh queued: the agent rescans its external certificate managers now.");
  });
});

describe("small ones (#12)", () => {
  test("display name and labels tell two hosts called vm apart, in the list and in search", async () => {
    const a = await newInstance({ hostname: "vm" });
    const b = await newInstance({ hostname: "vm" });
    const res = await post(`/instances/${a}/name`, { displayName: "Billing database", labels: "production, db, production" });
    expect(res.status).toBe(303);
    const detail = (await page(admin, `/instances/${a}`)).html;
    expect(detail).toContain("<title>Billing database (vm) · certhub</title>");
    expect(detail).toContain('<span class="badge label">production</span><span class="badge label">db</span>');
    const list = (await page(admin, "/instances?q=Billing")).html;
    expect(list).toContain(`href="/instances/${a}">Billing database</a>`);
    expect(list).not.toContain(b);
    expect((await page(admin, "/instances?q=production")).html).toContain(a);
    const tooLong = await post(`/instances/${b}/name`, { displayName: "x".repeat(101), labels: "" });
    expect(tooLong.status).toBe(303);
    expect((await withFlash(`/instances/${b}`, tooLong)).html).toContain("Keep the display name under 100 characters");
    // The same over the JSON API: PATCH changes only what it names.
    const patched = await admin.json(`/api/v1/instances/${b}`, "PATCH", { labels: ["staging"] });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: b, hostname: "vm", displayName: null, labels: ["staging"] });
    const named = await (await admin.json(`/api/v1/instances/${b}`, "PATCH", { displayName: "Staging web" })).json();
    expect(named).toMatchObject({ displayName: "Staging web", labels: ["staging"] });
    expect((await admin.json(`/api/v1/instances/${b}`, "PATCH", { labels: ["x".repeat(41)] })).status).toBe(400);
    expect((await admin.json(`/api/v1/instances/${b}`, "PATCH", { hostname: "renamed" })).status).toBe(400);
    const audit = (await page(admin, "/audit?q=instance.rename")).html;
    expect(audit).toContain("Renamed an instance");
  });

  test("a styled 404 with the navigation", async () => {
    const { status, html } = await page(admin, "/no/such/page");
    expect(status).toBe(404);
    expect(html).toContain('<nav id="main-nav"');
    expect(html).toContain("<h1>Page not found</h1>");
    expect(html).toContain('href="/static/app.css"');
    const anon = await fetch(`${hub.url}/no/such/page`, { redirect: "manual" });
    expect([302, 404]).toContain(anon.status);
  });

  test("audit rows have column headers and readable action names, on the dashboard and the audit log", async () => {
    const dash = (await page(admin, "/")).html;
    expect(dash).toMatch(/<table id="recent-activity"><thead><tr><th>When<\/th><th>Who<\/th><th>What<\/th><th>Outcome<\/th>/);
    const row = /<td title="([a-z-]+\.[a-z.-]+)">([A-Z][^<]+)<\/td>/.exec(dash);
    expect(row).not.toBeNull();
    expect(row![2]).not.toBe(row![1]); // words, with the code kept as a tooltip
    const audit = (await page(admin, "/audit")).html;
    expect(audit).toContain("<th>Action</th>");
    expect(audit).toMatch(/Signed in <div class="muted mono">login.success<\/div>/);
  });

  test("one user is '1 User', not '1 Users'", async () => {
    const dash = (await page(admin, "/")).html;
    expect(dash).toMatch(/<a href="\/settings\/users\?type=user">1<\/a><\/div><div class="label">User<\/div>/);
  });

  test("API Access can leave revoked keys out", async () => {
    const key = await newKey("Soon revoked key");
    await admin.fetch(`/api/v1/tokens/${key.clientId}/revoke`, { method: "POST" });
    expect((await page(admin, "/settings/api-access")).html).toContain("Soon revoked key");
    const hidden = (await page(admin, "/settings/api-access?revoked=hide")).html;
    expect(hidden).not.toContain("Soon revoked key");
    expect(hidden).toContain('name="revoked" value="hide" checked=""');
    const [row] = await hub.deps.db.select({ state: apiTokens.state }).from(apiTokens).where(eq(apiTokens.clientId, key.clientId));
    expect(row.state).toBe("revoked");
  });

  test("the sign-in lockout says when it lifts and how an admin recovers", async () => {
    for (let i = 0; i < 5; i++) await login(hub.url, "locked-user", "wrong-password");
    const res = await login(hub.url, "locked-user", "wrong-password");
    expect(res.status).toBe(429);
    const text = await res.text();
    expect(text).toMatch(/Try again in 15 minutes \(at \d\d:\d\d UTC\)/);
    expect(text).toContain("certhub users reset-password locked-user");
  }, 30_000);
});

describe("a hub without instances (#12)", () => {
  test("the empty Instances list links to the join card on the Dashboard", async () => {
    const empty = await startTestHub();
    try {
      const s = await signIn(empty.url);
      const list = (await page(s, "/instances")).html;
      expect(list).toContain('<a href="/#join">Join your first instance</a>');
      expect((await page(s, "/")).html).toContain('<section class="card" id="join"><h2>Join your first instance</h2>');
    } finally {
      await empty.stop();
    }
  });
});
