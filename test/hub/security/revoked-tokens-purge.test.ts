// Revoked API tokens do not pile up (issue 12 #12): the hourly retention run deletes those
// revoked more than 30 days ago — unless an instance still names one as its joining key (it
// must go on saying why it is cut off). Active, retired and recently revoked keys stay.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { REVOKED_TOKEN_KEEP_MS } from "../../../src/db/api-tokens";
import { insertInstance, newInstanceId } from "../../../src/db/instances";
import { apiTokens } from "../../../src/db/schema";
import { startAuditRetention } from "../../../src/hub/security/audit-retention";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";

let hub: TestHub;
let admin: Session;
beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

async function key(title: string) {
  return (await (await admin.json("/api/v1/tokens", "POST", { title })).json()) as { id: string; clientId: string };
}
const exists = async (id: string) => (await hub.deps.db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.id, id))).length === 1;

test("tokens revoked over 30 days ago are deleted unless an instance still names them", async () => {
  const old = await key("revoked long ago");
  const oldWithInstance = await key("revoked long ago, instance left");
  const recent = await key("revoked yesterday");
  const active = await key("still active");
  for (const k of [old, oldWithInstance, recent]) await admin.fetch(`/api/v1/tokens/${k.clientId}/revoke`, { method: "POST" });
  const longAgo = Date.now() - REVOKED_TOKEN_KEEP_MS - 86_400_000;
  for (const k of [old, oldWithInstance]) await hub.deps.db.update(apiTokens).set({ revokedAt: longAgo }).where(eq(apiTokens.id, k.id));
  await hub.deps.db.run(sql`update api_tokens set revoked_at = ${Date.now() - 86_400_000} where id = ${recent.id}`);
  await insertInstance(hub.deps.db, newInstanceId(), { hostname: "cut-off", os: "linux", arch: "x64", version: "0.1.0", publicKey: "pk", joiningKeyId: oldWithInstance.id, groupName: null, syncIntervalSeconds: 60 });

  const service = startAuditRetention(hub.deps.db, { maxAgeMs: 0, maxRows: 0, keepSecurityEvents: 0 }, 50);
  try {
    for (let i = 0; i < 100 && (await exists(old.id)); i++) await Bun.sleep(20);
  } finally {
    service.stop();
  }
  expect(await exists(old.id)).toBe(false);
  expect(await exists(oldWithInstance.id)).toBe(true);
  expect(await exists(recent.id)).toBe(true);
  expect(await exists(active.id)).toBe(true);
  // The API Access page no longer lists it; its history stays in the audit log.
  expect(await (await admin.fetch("/settings/api-access")).text()).not.toContain("revoked long ago<");
  expect(await (await admin.fetch(`/audit?q=${old.clientId}`)).text()).toContain("Revoked a joining key / API token");
});
