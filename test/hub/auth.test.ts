// Admin sign-in, sessions, CSRF and roles.
import { describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { sessions } from "../../src/db/schema";
import { ADMIN_PASSWORD } from "../helpers";
import { login, signIn } from "../helpers/session";
import { useSignedInHub } from "../helpers/hub-fixture";

const fx = useSignedInHub();

async function createUser(username: string, roles: string[], password = "correct-horse-battery") {
  const res = await fx.admin.json("/api/v1/principals", "POST", { type: "user", username, password, roles });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}

describe("sign-in", () => {
  test("a wrong password is rejected with a clear message, no cookie, and an audit entry", async () => {
    const res = await login(fx.hub.url, "admin", "not-the-password");
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("Wrong username or password");
    const audit = await (await fx.admin.fetch("/api/v1/audit?q=login.failure")).json();
    expect(audit.some((e: { actorLabel: string; outcome: string }) => e.actorLabel === "admin" && e.outcome === "failure")).toBe(true);
  });

  test("unauthenticated page requests redirect to /login; API requests get 401 JSON", async () => {
    const page = await fetch(`${fx.hub.url}/settings/users`, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toStartWith("/login");
    const api = await fetch(`${fx.hub.url}/api/v1/instances`);
    expect(api.status).toBe(401);
    expect((await api.json()).error).toContain("authentication required");
  });

  test("repeated failures are rate-limited, even for the right password afterwards", async () => {
    await createUser("victim", ["readonly"]);
    for (let i = 0; i < 5; i++) expect((await login(fx.hub.url, "victim", `guess-${i}`)).status).toBe(401);
    const blocked = await login(fx.hub.url, "victim", "correct-horse-battery");
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await blocked.text()).toContain("Too many failed sign-in attempts");
    // Other users are not locked out by it.
    await signIn(fx.hub.url, "admin", ADMIN_PASSWORD);
  });

  test("a disabled user cannot sign in and loses existing sessions", async () => {
    const { id } = await createUser("leaver", ["administrator"]);
    const theirs = await signIn(fx.hub.url, "leaver", "correct-horse-battery");
    expect((await theirs.fetch("/api/v1/me")).status).toBe(200);
    expect((await fx.admin.json(`/api/v1/principals/${id}`, "PATCH", { disabled: true })).status).toBe(200);
    expect((await theirs.fetch("/api/v1/me")).status).toBe(401);
    const res = await login(fx.hub.url, "leaver", "correct-horse-battery");
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("disabled");
  });

  test("logout ends the session", async () => {
    const s = await signIn(fx.hub.url);
    const res = await s.fetch("/logout", { method: "POST", body: new URLSearchParams({ _csrf: s.csrf }) });
    expect(res.status).toBe(303);
    expect((await s.fetch("/api/v1/me")).status).toBe(401);
  });
});

describe("sessions", () => {
  test("cookie is HttpOnly and SameSite=Strict", async () => {
    const res = await login(fx.hub.url, "admin", ADMIN_PASSWORD);
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
  });

  test("an absolutely expired session is refused and deleted", async () => {
    const s = await signIn(fx.hub.url);
    const { db } = fx.hub.deps;
    await db.run(sql`update sessions set expires_at = ${Date.now() - 1000} where id_hash = (select id_hash from sessions order by created_at desc limit 1)`);
    expect((await s.fetch("/api/v1/me")).status).toBe(401);
    const page = await s.fetch("/");
    expect(page.status).toBe(302);
  });

  test("an idle session is refused", async () => {
    const s = await signIn(fx.hub.url);
    const { db } = fx.hub.deps;
    const [row] = await db.select().from(sessions).orderBy(sql`created_at desc`).limit(1);
    await db.update(sessions).set({ lastSeenAt: Date.now() - 3 * 3600_000 }).where(eq(sessions.idHash, row.idHash));
    expect((await s.fetch("/api/v1/me")).status).toBe(401);
  });
});

describe("sign out everywhere", () => {
  test("an admin ends every session of a user at once (API), audited", async () => {
    const { id } = await createUser("roamer", ["readonly"]);
    const laptop = await signIn(fx.hub.url, "roamer", "correct-horse-battery");
    const phone = await signIn(fx.hub.url, "roamer", "correct-horse-battery");
    const res = await fx.admin.fetch(`/api/v1/principals/${id}/sessions/revoke`, { method: "POST" });
    expect(res.status).toBe(200);
    expect((await res.json()).ended).toBe(2);
    expect((await laptop.fetch("/api/v1/me")).status).toBe(401);
    expect((await phone.fetch("/api/v1/me")).status).toBe(401);
    const audit = await (await fx.admin.fetch("/api/v1/audit?q=principal.sessions-revoke")).json();
    expect(audit[0]).toMatchObject({ targetId: id, actorLabel: "admin" });
    // They can sign in again afterwards.
    await signIn(fx.hub.url, "roamer", "correct-horse-battery");
  });

  test("the Users page offers it as a form action", async () => {
    const { id } = await createUser("roamer2", ["readonly"]);
    const theirs = await signIn(fx.hub.url, "roamer2", "correct-horse-battery");
    const page = await (await fx.admin.fetch("/settings/users?q=roamer2")).text();
    expect(page).toContain(`/settings/users/${id}/sessions/revoke`);
    const res = await fx.admin.fetch(`/settings/users/${id}/sessions/revoke`, { method: "POST", body: new URLSearchParams({ _csrf: fx.admin.csrf }) });
    expect(res.status).toBe(303);
    expect((await theirs.fetch("/api/v1/me")).status).toBe(401);
  });
});

describe("CSRF", () => {
  test("a session POST without the CSRF token is rejected and writes nothing", async () => {
    const before = (await (await fx.admin.fetch("/api/v1/tokens")).json()).length;
    const res = await fx.admin.fetch("/api/v1/tokens", {
      method: "POST",
      csrf: false,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "csrf attempt" }),
    });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toContain("CSRF");
    expect((await (await fx.admin.fetch("/api/v1/tokens")).json()).length).toBe(before);
  });

  test("a form POST from another origin is rejected even with a token", async () => {
    const res = await fx.admin.fetch("/logout", {
      method: "POST",
      headers: { origin: "https://evil.example" },
      body: new URLSearchParams({ _csrf: fx.admin.csrf }),
    });
    expect(res.status).toBe(403);
    expect((await fx.admin.fetch("/api/v1/me")).status).toBe(200);
  });

  test("a wrong CSRF token is rejected", async () => {
    const res = await fx.admin.fetch("/api/v1/tokens", {
      method: "POST",
      csrf: false,
      headers: { "content-type": "application/json", "x-csrf-token": "wrong" },
      body: JSON.stringify({ title: "x" }),
    });
    expect(res.status).toBe(403);
  });
});

describe("roles", () => {
  test("a read-only user can read but cannot create tokens", async () => {
    await createUser("viewer", ["readonly"]);
    const viewer = await signIn(fx.hub.url, "viewer", "correct-horse-battery");
    expect((await viewer.fetch("/api/v1/tokens")).status).toBe(200);
    const res = await viewer.json("/api/v1/tokens", "POST", { title: "not allowed" });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toContain("administrator role is required");
    const page = await viewer.fetch("/settings/api-access", { method: "POST", body: new URLSearchParams({ _csrf: viewer.csrf, title: "x" }) });
    expect(page.status).toBe(403);
  });

  test("a user without any hub role cannot sign in", async () => {
    await createUser("nobody", []);
    const res = await login(fx.hub.url, "nobody", "correct-horse-battery");
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("no hub role");
  });
});

test("security headers forbid framing and inline script", async () => {
  const res = await fetch(`${fx.hub.url}/login`);
  const csp = res.headers.get("content-security-policy")!;
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
});
