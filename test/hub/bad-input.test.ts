// Bad input to the admin API: clear 4xx JSON errors, never 5xx, nothing written.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { signIn, startTestHub, type Session, type TestHub } from "../helpers/session";

let hub: TestHub;
let admin: Session;

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

async function counts() {
  const { db } = hub.deps;
  const [row] = await db.all<{ t: number; p: number }>(sql`select (select count(*) from api_tokens) t, (select count(*) from principals) p`);
  return row;
}

const raw = (path: string, body: string, type = "application/json") =>
  admin.fetch(path, { method: "POST", headers: { "content-type": type }, body });

const cases: [string, () => Promise<Response>, number][] = [
  ["malformed JSON", () => raw("/api/v1/tokens", "{ title: nope"), 400],
  ["JSON that is not an object", () => raw("/api/v1/tokens", "[1,2,3]"), 400],
  ["wrong types", () => admin.json("/api/v1/tokens", "POST", { title: 42, maxUses: "many" }), 400],
  ["unknown role", () => admin.json("/api/v1/tokens", "POST", { title: "x", role: "root" }), 400],
  ["unknown field", () => admin.json("/api/v1/tokens", "POST", { title: "x", secret: "mine" }), 400],
  ["expiry in the past", () => admin.json("/api/v1/tokens", "POST", { title: "x", expiresAt: 1000 }), 400],
  ["negative max uses", () => admin.json("/api/v1/tokens", "POST", { title: "x", maxUses: -1 }), 400],
  ["empty title", () => admin.json("/api/v1/tokens", "POST", { title: "   " }), 400],
  ["oversized body", () => raw("/api/v1/tokens", JSON.stringify({ title: "x".repeat(400_000) })), 413],
  ["form body where JSON is expected", () => raw("/api/v1/tokens", "title=x", "application/x-www-form-urlencoded"), 400],
  ["short password", () => admin.json("/api/v1/principals", "POST", { type: "user", username: "bob", password: "short" }), 400],
  ["bad username", () => admin.json("/api/v1/principals", "POST", { type: "user", username: "bob smith", password: "long-enough-password" }), 400],
  ["unknown principal type", () => admin.json("/api/v1/principals", "POST", { type: "robot", title: "x" }), 400],
  ["roles not an array", () => admin.json("/api/v1/principals/p_x/roles", "PUT", { roles: "administrator" }), 400],
  ["bad pagination", () => admin.fetch("/api/v1/tokens?limit=-5"), 400],
  ["unknown token", () => admin.fetch("/api/v1/tokens/chub_id_nope/revoke", { method: "POST" }), 404],
  ["unknown endpoint", () => admin.fetch("/api/v1/nothing-here"), 404],
  ["bad Basic header", () => fetch(`${hub.url}/api/v1/me`, { headers: { authorization: "Basic !!!" } }), 401],
];

for (const [name, send, status] of cases) {
  test(`${name} → ${status} JSON error, nothing written`, async () => {
    const before = await counts();
    const res = await send();
    expect(res.status).toBe(status);
    const body = await res.json();
    expect(typeof body.error).toBe("string");
    expect(body.error.length).toBeGreaterThan(3);
    expect(await counts()).toEqual(before);
  });
}

test("login form with missing fields is a 400 page, not a crash", async () => {
  const res = await fetch(`${hub.url}/login`, { method: "POST", body: new URLSearchParams({ username: "" }) });
  expect(res.status).toBe(400);
  expect(await res.text()).toContain("Enter a username and a password");
});
