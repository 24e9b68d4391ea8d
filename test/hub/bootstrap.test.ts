// First start creates exactly the contract's objects; a second start creates nothing.
import { afterAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { listApiTokens } from "../../src/db/api-tokens";
import { listPrincipals } from "../../src/db/principals";
import { rolesOf } from "../../src/db/roles";
import { startTestHub, signIn, type TestHub } from "../helpers/session";

const hubs: TestHub[] = [];
afterAll(async () => {
  for (const h of hubs) await h.stop().catch(() => {});
});

test("a fresh data dir yields one admin, the managed-instance principal and role, and one joining key", async () => {
  const hub = await startTestHub();
  hubs.push(hub);
  expect(hub.bootstrap).toBeDefined();
  const { db } = hub.deps;

  const { rows: principals } = await listPrincipals(db, { limit: 200 });
  const users = principals.filter((p) => p.type === "user");
  expect(users.map((u) => u.username)).toEqual(["admin"]);
  expect(users[0].roles).toEqual(["administrator"]);
  const services = principals.filter((p) => p.type === "service");
  expect(services.map((s) => s.title)).toEqual(["Hub Managed Instance"]);
  expect(await rolesOf(db, services[0].id)).toEqual(["managed-instance"]);

  const roleTitles = (await db.all<{ title: string }>(sql`select title from roles order by title`)).map((r) => r.title);
  expect(roleTitles).toContain("Management Hub Managed Instance");
  expect(roleTitles).toContain("Administrator");
  expect(roleTitles).toContain("Read-only Viewer");

  const { rows: tokens } = await listApiTokens(db);
  expect(tokens).toHaveLength(1);
  expect(tokens[0].title).toBe("Instance Joining Key");
  expect(tokens[0].roleId).toBe("managed-instance");
  expect(tokens[0].clientId).toBe(hub.bootstrap!.joiningKey.clientId);
  // The secret printed once is not stored anywhere in clear.
  expect(tokens[0].secretHash).not.toContain(hub.bootstrap!.joiningKey.secret);

  // The printed admin password works.
  await signIn(hub.url, "admin", hub.bootstrap!.admin.password);
});

test("a second start on the same data dir creates nothing new and has no secret to print", async () => {
  const first = await startTestHub();
  const dataDir = first.dataDir;
  await first.stop();
  const second = await startTestHub({ dataDir, adminPassword: "a-different-password-123" });
  hubs.push(second);
  expect(second.bootstrap).toBeUndefined();
  const { db } = second.deps;
  expect((await listPrincipals(db, { limit: 200 })).total).toBe(2);
  expect((await listApiTokens(db)).total).toBe(1);
  // The admin password was not changed by the second start's environment.
  await expect(signIn(second.url, "admin", "a-different-password-123")).rejects.toThrow();
});
