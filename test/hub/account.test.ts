// Every signed-in user can change their own password on /account.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { login, signIn, startTestHub, type Session, type TestHub } from "../helpers/session";

let hub: TestHub;
let admin: Session;
const OLD = "viewer-password-1";
const NEW = "viewer-password-2-longer";

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
  const res = await admin.json("/api/v1/principals", "POST", { type: "user", username: "viewer", password: OLD, roles: ["readonly"] });
  expect(res.status).toBe(201);
});
afterAll(() => hub.stop());

const change = (s: Session, fields: Record<string, string>, csrf = true) =>
  s.fetch("/account/password", { method: "POST", body: new URLSearchParams({ ...(csrf ? { _csrf: s.csrf } : {}), ...fields }), csrf: false });

test("the account page shows who is signed in and links from the top bar", async () => {
  const viewer = await signIn(hub.url, "viewer", OLD);
  const html = await (await viewer.fetch("/account")).text();
  expect(html).toContain("viewer");
  expect(html).toContain("Read-only Viewer");
  expect(html).toContain('href="/account"');
});

test("bad input and a wrong current password change nothing", async () => {
  const viewer = await signIn(hub.url, "viewer", OLD);
  const short = await change(viewer, { current: OLD, password: "short", confirm: "short" });
  expect(short.status).toBe(422);
  expect(await short.text()).toContain("At least 12 characters");
  const differ = await change(viewer, { current: OLD, password: NEW, confirm: NEW + "x" });
  expect(await differ.text()).toContain("The two passwords differ");
  const wrong = await change(viewer, { current: "not-my-password", password: NEW, confirm: NEW });
  expect(wrong.status).toBe(422);
  expect(await wrong.text()).toContain("The current password is wrong");
  const noCsrf = await change(viewer, { current: OLD, password: NEW, confirm: NEW }, false);
  expect(noCsrf.status).toBe(403);
  expect((await login(hub.url, "viewer", OLD)).status).toBe(303);
  const audit = await (await admin.fetch("/api/v1/audit?q=account.password-change")).json();
  expect(audit.some((e: { outcome: string }) => e.outcome === "failure")).toBe(true);
});

test("a read-only user changes their own password; other sessions end, this one stays", async () => {
  const here = await signIn(hub.url, "viewer", OLD);
  const elsewhere = await signIn(hub.url, "viewer", OLD);
  const res = await change(here, { current: OLD, password: NEW, confirm: NEW });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/account?done=password");
  expect((await here.fetch("/api/v1/me")).status).toBe(200);
  expect((await elsewhere.fetch("/api/v1/me")).status).toBe(401);
  expect((await login(hub.url, "viewer", OLD)).status).toBe(401);
  expect((await login(hub.url, "viewer", NEW)).status).toBe(303);
  // Still read-only everywhere else.
  expect((await here.json("/api/v1/tokens", "POST", { title: "x" })).status).toBe(403);
});
