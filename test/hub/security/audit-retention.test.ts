// Security review #4: the audit log cannot be flooded.
//  - refused sign-ins are one counted "login.rate_limited" row per limiter key and window
//    (before the fix: one login.failure row per refused attempt, ~226 rows/s unauthenticated);
//  - retention: rows past the maximum age or beyond the row cap are deleted, except the newest
//    security events, and the hub runs it on its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { audit, pruneAudit } from "../../../src/db/audit";
import type { HubDb } from "../../../src/db/client";
import { auditLog } from "../../../src/db/schema";
import { DEFAULT_AUDIT_RETENTION, resolveHubConfig } from "../../../src/hub/config";
import { startAuditRetention } from "../../../src/hub/security/audit-retention";
import { FLUSH_DELAY_MS } from "../../../src/hub/security/audit-bursts";
import { PER_USER_FAILURES } from "../../../src/hub/security/sign-in-limits";
import { login, startTestHub, type TestHub } from "../../helpers/session";

let hub: TestHub;
let db: HubDb;
beforeAll(async () => {
  hub = await startTestHub();
  db = hub.deps.db;
});
afterAll(() => hub.stop());

async function rows(action: string, label?: string) {
  return db
    .select()
    .from(auditLog)
    .where(label ? and(eq(auditLog.action, action), eq(auditLog.actorLabel, label)) : eq(auditLog.action, action));
}

describe("refused sign-ins", () => {
  test("a flood of refused attempts is one counted row, not one row each", async () => {
    for (let i = 0; i < PER_USER_FAILURES; i++) expect((await login(hub.url, "admin", `nope-${i}`)).status).toBe(401);
    const flood = await Promise.all(Array.from({ length: 100 }, () => login(hub.url, "admin", "still-guessing")));
    expect(flood.every((r) => r.status === 429)).toBe(true);
    await Bun.sleep(FLUSH_DELAY_MS + 500);
    expect(await rows("login.failure", "admin")).toHaveLength(PER_USER_FAILURES);
    const limited = await rows("login.rate_limited", "admin");
    expect(limited).toHaveLength(1);
    expect(limited[0]!.outcome).toBe("failure");
    expect(limited[0]!.ip).toBe("127.0.0.1");
    expect(JSON.parse(limited[0]!.detail!)).toMatchObject({ count: 100, scope: "user+address", username: "admin" });
    // Still the same row while the window lasts.
    expect((await login(hub.url, "admin", "again")).status).toBe(429);
    await Bun.sleep(FLUSH_DELAY_MS + 500);
    expect(await rows("login.rate_limited", "admin")).toHaveLength(1);
    expect(JSON.parse((await rows("login.rate_limited", "admin"))[0]!.detail!).count).toBe(101);
  }, 60_000);
});

describe("retention", () => {
  const DAY = 86_400_000;

  async function seed(n: number, action: string, at: number) {
    for (let i = 0; i < n; i++) await db.insert(auditLog).values({ at, actorLabel: "seed", action, outcome: "success" });
  }
  async function count(action?: string) {
    const [r] = await db.select({ n: sql<number>`count(*)` }).from(auditLog).where(action ? eq(auditLog.action, action) : undefined);
    return Number(r!.n);
  }

  test("defaults keep a year", () => {
    expect(DEFAULT_AUDIT_RETENTION.maxAgeMs).toBe(365 * DAY);
    expect(resolveHubConfig({}, {}).auditRetention).toEqual(DEFAULT_AUDIT_RETENTION);
    expect(resolveHubConfig({ "audit-max-age": "30", "audit-max-rows": "500" }, { CERTHUB_AUDIT_KEEP_SECURITY: "7" }).auditRetention).toEqual({
      maxAgeMs: 30 * DAY,
      maxRows: 500,
      keepSecurityEvents: 7,
    });
    expect(() => resolveHubConfig({ "audit-max-rows": "-1" }, {})).toThrow(/audit-max-rows/);
    expect(() => resolveHubConfig({}, { CERTHUB_AUDIT_MAX_AGE_DAYS: "a year" })).toThrow(/audit-max-age/);
  });

  test("old rows go, the newest security events stay whatever their age", async () => {
    await db.delete(auditLog);
    const old = Date.now() - 400 * DAY;
    await seed(30, "instance.command", old);
    await seed(30, "login.failure", old);
    await seed(5, "token.create", old);
    await seed(10, "instance.command", Date.now());
    const deleted = await pruneAudit(db, { maxAgeMs: 365 * DAY, maxRows: 0, keepSecurityEvents: 20 });
    // The 20 newest security events are the 5 token rows and the 15 newest sign-in failures.
    expect(await count("token.create")).toBe(5);
    expect(await count("login.failure")).toBe(15);
    expect(await count("instance.command")).toBe(10);
    expect(deleted).toBe(30 + 15);
  });

  test("the row cap keeps the newest rows, never below the protected security events", async () => {
    await db.delete(auditLog);
    const now = Date.now();
    await seed(50, "login.success", now);
    await seed(200, "instance.command", now);
    await pruneAudit(db, { maxAgeMs: 0, maxRows: 100, keepSecurityEvents: 30 });
    expect(await count("instance.command")).toBe(100);
    expect(await count("login.success")).toBe(30);
    // keepSecurityEvents larger than what exists: every security event stays (on top of the
    // newest 10 rows, which are commands).
    await pruneAudit(db, { maxAgeMs: 0, maxRows: 10, keepSecurityEvents: 1000 });
    expect(await count("login.success")).toBe(30);
    expect(await count("instance.command")).toBe(10);
  });

  test("a backlog larger than one delete chunk is pruned completely", async () => {
    await db.delete(auditLog);
    await db.run(sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 12000)
      insert into audit_log (at, actor_label, action, outcome) select ${Date.now() - 400 * DAY}, 'seed', 'instance.command', 'success' from n`);
    expect(await pruneAudit(db, DEFAULT_AUDIT_RETENTION)).toBe(12000);
    expect(await count()).toBe(0);
  });

  test("the hub runs retention on its own", async () => {
    await db.delete(auditLog);
    await seed(3, "instance.command", Date.now() - 2 * DAY);
    await audit(db, { id: null, label: "x" }, "instance.command");
    const service = startAuditRetention(db, { maxAgeMs: DAY, maxRows: 0, keepSecurityEvents: 0 }, 50);
    try {
      for (let i = 0; i < 100 && (await count()) > 1; i++) await Bun.sleep(20);
      expect(await count()).toBe(1);
    } finally {
      service.stop();
    }
    expect(hub.deps.services.map((s) => s.name)).toContain("audit-retention");
  });
});
