// API tokens: secret shown once and stored hashed; revoke, expiry and max uses enforced.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { basicAuth, signIn, startTestHub, type Session, type TestHub } from "../helpers/session";

let hub: TestHub;
let admin: Session;

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

async function createToken(body: Record<string, unknown>) {
  const res = await admin.json("/api/v1/tokens", "POST", body);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; clientId: string; secret: string };
}

const me = (clientId: string, secret: string) => fetch(`${hub.url}/api/v1/me`, { headers: basicAuth(clientId, secret) });

test("the secret is returned once, never listed, and the database holds no plaintext", async () => {
  const t = await createToken({ title: "automation", role: "administrator" });
  expect(t.secret).toStartWith("chub_sk_");
  expect(t.secret.length).toBeGreaterThanOrEqual(8 + 32); // ≥160 bits of base32
  const listed = await (await admin.fetch("/api/v1/tokens")).text();
  expect(listed).toContain(t.clientId);
  expect(listed).not.toContain(t.secret);
  expect(listed).not.toContain("secretHash");
  const one = await (await admin.fetch(`/api/v1/tokens/${t.clientId}`)).text();
  expect(one).not.toContain(t.secret);

  // Look in every column of every table, then in the raw database files (incl. WAL).
  const { db } = hub.deps;
  const tables = (await db.all<{ name: string }>(sql`select name from sqlite_master where type = 'table'`)).map((r) => r.name);
  for (const table of tables) {
    const rows = await db.all(sql.raw(`select * from "${table}"`));
    expect(JSON.stringify(rows)).not.toContain(t.secret);
  }
  for (const f of readdirSync(hub.dataDir).filter((f) => f.startsWith("hub.db"))) {
    expect(readFileSync(path.join(hub.dataDir, f)).includes(Buffer.from(t.secret))).toBe(false);
  }
  expect((await me(t.clientId, t.secret)).status).toBe(200);
});

test("a wrong secret and an unknown client id get the same 401", async () => {
  const t = await createToken({ title: "wrong-secret", role: "administrator" });
  const a = await me(t.clientId, t.secret.slice(0, -1) + (t.secret.endsWith("a") ? "b" : "a"));
  const b = await me("chub_id_doesnotexist00", t.secret);
  expect(a.status).toBe(401);
  expect(b.status).toBe(401);
  expect((await a.json()).error).toBe((await b.json()).error);
});

test("revoking a token takes effect on the very next request", async () => {
  const t = await createToken({ title: "to revoke", role: "administrator" });
  expect((await me(t.clientId, t.secret)).status).toBe(200);
  expect((await admin.fetch(`/api/v1/tokens/${t.clientId}/revoke`, { method: "POST" })).status).toBe(200);
  const res = await me(t.clientId, t.secret);
  expect(res.status).toBe(401);
  expect((await res.json()).error).toContain("revoked");
});

test("an expired token is refused", async () => {
  const t = await createToken({ title: "short-lived", role: "administrator", expiresAt: Date.now() + 1200 });
  expect((await me(t.clientId, t.secret)).status).toBe(200);
  await Bun.sleep(1400);
  const res = await me(t.clientId, t.secret);
  expect(res.status).toBe(401);
  expect((await res.json()).error).toContain("expired");
  const listed = await (await admin.fetch(`/api/v1/tokens/${t.clientId}`)).json();
  expect(listed.status).toBe("expired");
});

test("max uses is enforced and use count / last used are shown", async () => {
  const t = await createToken({ title: "twice", role: "readonly", maxUses: 2 });
  expect((await me(t.clientId, t.secret)).status).toBe(200);
  expect((await me(t.clientId, t.secret)).status).toBe(200);
  const third = await me(t.clientId, t.secret);
  expect(third.status).toBe(401);
  expect((await third.json()).error).toContain("maximum number of uses");
  const view = await (await admin.fetch(`/api/v1/tokens/${t.clientId}`)).json();
  expect(view.useCount).toBe(2);
  expect(view.status).toBe("used-up");
  expect(view.lastUsedAt).toBeGreaterThan(Date.now() - 60_000);
});

test("a read-only token can read but not write; a joining key is not an admin credential", async () => {
  const ro = await createToken({ title: "reader", role: "readonly" });
  const read = await fetch(`${hub.url}/api/v1/tokens`, { headers: basicAuth(ro.clientId, ro.secret) });
  expect(read.status).toBe(200);
  const write = await fetch(`${hub.url}/api/v1/tokens`, {
    method: "POST",
    headers: { ...basicAuth(ro.clientId, ro.secret), "content-type": "application/json" },
    body: JSON.stringify({ title: "x" }),
  });
  expect(write.status).toBe(403);

  const join = hub.bootstrap!.joiningKey;
  const res = await me(join.clientId, join.secret);
  expect(res.status).toBe(401);
  expect((await res.json()).error).toContain("not valid for this purpose");
});

test("an administrator token creates joining keys with group, expiry and max uses", async () => {
  const adminToken = await createToken({ title: "ci", role: "administrator" });
  const res = await fetch(`${hub.url}/api/v1/tokens`, {
    method: "POST",
    headers: { ...basicAuth(adminToken.clientId, adminToken.secret), "content-type": "application/json" },
    body: JSON.stringify({ title: "Org B joining key", group: "org-b", maxUses: 10, expiresAt: Date.now() + 86400_000 }),
  });
  expect(res.status).toBe(201);
  const created = await res.json();
  const view = await (await admin.fetch(`/api/v1/tokens/${created.clientId}`)).json();
  expect(view).toMatchObject({ role: "managed-instance", group: "org-b", maxUses: 10, status: "active", principalTitle: "Hub Managed Instance" });
  const audit = await (await admin.fetch("/api/v1/audit?q=token.create")).json();
  expect(audit.some((e: { targetId: string; actorLabel: string }) => e.targetId === created.clientId && e.actorLabel === "token:ci")).toBe(true);
});
