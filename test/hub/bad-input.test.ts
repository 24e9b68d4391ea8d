// Bad input to the admin API: clear 4xx JSON errors, never 5xx, nothing written.
import { expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { useSignedInHub } from "../helpers/hub-fixture";

const fx = useSignedInHub();

async function counts() {
  const { db } = fx.hub.deps;
  const [row] = await db.all<{ t: number; p: number }>(sql`select (select count(*) from api_tokens) t, (select count(*) from principals) p`);
  return row;
}

const raw = (path: string, body: string, type = "application/json") =>
  fx.admin.fetch(path, { method: "POST", headers: { "content-type": type }, body });

const cases: [string, () => Promise<Response>, number][] = [
  ["malformed JSON", () => raw("/api/v1/tokens", "{ title: nope"), 400],
  ["JSON that is not an object", () => raw("/api/v1/tokens", "[1,2,3]"), 400],
  ["wrong types", () => fx.admin.json("/api/v1/tokens", "POST", { title: 42, maxUses: "many" }), 400],
  ["unknown role", () => fx.admin.json("/api/v1/tokens", "POST", { title: "x", role: "root" }), 400],
  ["unknown field", () => fx.admin.json("/api/v1/tokens", "POST", { title: "x", secret: "mine" }), 400],
  ["expiry in the past", () => fx.admin.json("/api/v1/tokens", "POST", { title: "x", expiresAt: 1000 }), 400],
  ["negative max uses", () => fx.admin.json("/api/v1/tokens", "POST", { title: "x", maxUses: -1 }), 400],
  ["empty title", () => fx.admin.json("/api/v1/tokens", "POST", { title: "   " }), 400],
  ["oversized body", () => raw("/api/v1/tokens", JSON.stringify({ title: "x".repeat(400_000) })), 413],
  ["form body where JSON is expected", () => raw("/api/v1/tokens", "title=x", "application/x-www-form-urlencoded"), 400],
  ["short password", () => fx.admin.json("/api/v1/principals", "POST", { type: "user", username: "bob", password: "short" }), 400],
  ["bad username", () => fx.admin.json("/api/v1/principals", "POST", { type: "user", username: "bob smith", password: "long-enough-password" }), 400],
  ["unknown principal type", () => fx.admin.json("/api/v1/principals", "POST", { type: "robot", title: "x" }), 400],
  ["roles not an array", () => fx.admin.json("/api/v1/principals/p_x/roles", "PUT", { roles: "administrator" }), 400],
  ["bad pagination", () => fx.admin.fetch("/api/v1/tokens?limit=-5"), 400],
  ["unknown token", () => fx.admin.fetch("/api/v1/tokens/chub_id_nope/revoke", { method: "POST" }), 404],
  ["unknown endpoint", () => fx.admin.fetch("/api/v1/nothing-here"), 404],
  ["bad Basic header", () => fetch(`${fx.hub.url}/api/v1/me`, { headers: { authorization: "Basic !!!" } }), 401],
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
  const res = await fetch(`${fx.hub.url}/login`, { method: "POST", body: new URLSearchParams({ username: "" }) });
  expect(res.status).toBe(400);
  expect(await res.text()).toContain("Enter a username and a password");
});
