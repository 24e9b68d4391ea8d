// Security review #2: after "reset identity" and the legitimate re-key, the retired key may
// re-join exactly once (as a new, cloned instance), under the joining key's limits (state,
// expiry, max uses, owner) and the sequence rules — then it is gone. Before the fix every
// request signed with it minted a new instance, byte-identical replays included.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { count, eq } from "drizzle-orm";
import { apiTokens, instances } from "../../../src/db/schema";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";
import { createJoiningKey } from "../joining-keys.fixtures";
import { FACTS, FakeAgent } from "../agent-api.fixtures";

let hub: TestHub;
let admin: Session;
beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

const newKey = (body: Record<string, unknown> = {}) => createJoiningKey(admin, body);
const instancesOfKey = async (keyId: string) => (await hub.deps.db.select({ n: count() }).from(instances).where(eq(instances.joiningKeyId, keyId)))[0].n;
const useCount = async (keyId: string) => (await hub.deps.db.select().from(apiTokens).where(eq(apiTokens.id, keyId)))[0].useCount;

/**
 * Joins an instance, resets its identity and lets the legitimate holder re-key. Returns the
 * re-keyed agent, the retired-key holder (still on the old key pair, another process) and the
 * exact bytes of the legitimate re-key request.
 */
async function resetAndRekey(key: { clientId: string; secret: string }) {
  const original = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
  expect((await original.sync({ settingsVersion: 1 })).status).toBe(204);
  const stale = original.clone();
  stale.bootId = "other-process-boot-0001";
  expect((await admin.fetch(`/api/v1/instances/${original.instanceId}/reset-identity`, { method: "POST" })).status).toBe(200);
  const next = new FakeAgent(hub.url).keyPair;
  const time = Date.now();
  const seq = original.seq + 1;
  const body = { newPublicKey: next.publicKey, facts: FACTS };
  const oldKeyPair = original.keyPair;
  const kept = await original.send("rekey", body, { seq, time });
  expect(kept.status).toBe(200);
  expect((await kept.json()).keptInstance).toBe(true);
  const replayLegit = () => original.send("rekey", body, { seq, time, keyPair: oldKeyPair }); // same bytes, same (now retired) key
  original.keyPair = next;
  return { original, stale, replayLegit };
}

function rejoin(stale: FakeAgent, o: { seq?: number; time?: number; publicKey?: string } = {}) {
  const publicKey = o.publicKey ?? new FakeAgent(hub.url).keyPair.publicKey;
  return stale.send("rekey", { newPublicKey: publicKey, facts: { ...FACTS, hostname: "stale-copy" } }, { seq: o.seq, time: o.time });
}

describe("rekey: the retired key after an identity reset", () => {
  test("re-joins exactly once; a byte-identical replay and any further use are refused", async () => {
    const key = await newKey();
    const { stale } = await resetAndRekey(key);
    expect(await instancesOfKey(key.id)).toBe(1);
    const usesBefore = await useCount(key.id);

    const time = Date.now();
    const seq = stale.seq + 1;
    const publicKey = new FakeAgent(hub.url).keyPair.publicKey;
    const first = await rejoin(stale, { seq, time, publicKey });
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(body.keptInstance).toBe(false);
    const clone = await (await admin.fetch(`/api/v1/instances/${body.instanceId}`)).json();
    expect(clone.clonedFromId).toBe(stale.instanceId);

    const replay = await rejoin(stale, { seq, time, publicKey });
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
    for (let i = 0; i < 5; i++) expect((await rejoin(stale)).status).toBeGreaterThanOrEqual(400);
    expect(await instancesOfKey(key.id)).toBe(2);
    expect(await useCount(key.id)).toBe(usesBefore + 1); // the re-join counted as a join
    const row = (await hub.deps.db.select().from(instances).where(eq(instances.id, stale.instanceId)))[0];
    expect(row.retiredPublicKey).toBeNull();
  });

  test("a replay of the legitimate re-key (now signed with a retired key) creates nothing", async () => {
    const key = await newKey();
    const { replayLegit } = await resetAndRekey(key);
    const res = await replayLegit();
    expect(res.status).toBe(409);
    expect((await res.json()).code).toBe("replay");
    expect(await instancesOfKey(key.id)).toBe(1);
  });

  test("on a key with max uses 1, ten re-join attempts mint no instance (key-used-up)", async () => {
    const key = await newKey({ maxUses: 1 });
    const { stale } = await resetAndRekey(key);
    for (let i = 0; i < 10; i++) {
      const res = await rejoin(stale);
      expect(res.status).toBe(403);
      expect((await res.json()).code).toBe("key-used-up");
    }
    expect(await instancesOfKey(key.id)).toBe(1);
    expect(await useCount(key.id)).toBe(1);
  });

  test("a retired or expired joining key refuses the re-join (a revoked one already cuts the instance off)", async () => {
    const retired = await newKey();
    const a = await resetAndRekey(retired);
    expect((await admin.fetch(`/api/v1/tokens/${retired.id}/retire`, { method: "POST" })).status).toBeLessThan(300);
    const r1 = await rejoin(a.stale);
    expect(r1.status).toBe(403);
    expect((await r1.json()).code).toBe("key-retired");
    expect(await instancesOfKey(retired.id)).toBe(1);

    const expiring = await newKey({ expiresAt: Date.now() + 1500 });
    const b = await resetAndRekey(expiring);
    await Bun.sleep(1600);
    const r2 = await rejoin(b.stale);
    expect(r2.status).toBe(403);
    expect((await r2.json()).code).toBe("key-expired");
    expect(await instancesOfKey(expiring.id)).toBe(1);
  });

  test("concurrent re-joins with the retired key: exactly one succeeds", async () => {
    const key = await newKey();
    const { stale } = await resetAndRekey(key);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => rejoin(stale, { seq: stale.seq + 1 + i })));
    expect(results.filter((r) => r.status === 200).length).toBe(1);
    expect(results.every((r) => r.status < 500)).toBe(true);
    expect(await instancesOfKey(key.id)).toBe(2);
  });
});
