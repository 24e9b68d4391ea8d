// Security review #1: a burst of simultaneous guesses must not outrun the sign-in or join limits.
// The old limiters only *checked* before the argon2id verify (or the key lookup) and *recorded*
// the failure after it, so every attempt of a parallel burst was evaluated and a right password
// late in the burst signed in. Measured with 50 parallel attempts from one address:
//   sign-in: before the fix 50 evaluated (and the right one signed in), after ≤ 5;
//   join:    before the fix 50 checked (with a libSQL server's latency on key lookups; on the
//            embedded file database the lookup is quick enough to hide the race), after ≤ 5
//            (the per address+client id limit, security/join-limits.ts).
import { describe, expect, test } from "bun:test";
import { KeyedLock, RateLimiter } from "../../../src/hub/security/rate-limit";
import { JOIN_FAILURES_PER_CLIENT } from "../../../src/hub/security/join-limits";
import { PER_USER_FAILURES } from "../../../src/hub/security/sign-in-limits";
import { FakeAgent } from "../agent-api.fixtures";
import { login } from "../../helpers/session";
import { useSignedInHub } from "../../helpers/hub-fixture";

const fx = useSignedInHub();

/**
 * Makes key lookups take as long as they do against a libSQL server (--db-url): on the embedded
 * file database a lookup finishes within a few microtasks, which hides the check-then-record race.
 */
async function withRemoteDbLatency<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const client = (fx.hub.deps.db as unknown as { $client: { execute: (...a: unknown[]) => Promise<unknown> } }).$client;
  const execute = client.execute;
  client.execute = async (...args: unknown[]) => {
    await Bun.sleep(ms);
    return execute.apply(client, args);
  };
  try {
    return await run();
  } finally {
    client.execute = execute;
  }
}

async function createUser(username: string, password: string) {
  const res = await fx.admin.json("/api/v1/principals", "POST", { type: "user", username, password, roles: ["readonly"] });
  expect(res.status).toBe(201);
}

describe("sign-in under a parallel burst", () => {
  test("50 simultaneous guesses: at most the limit are evaluated, and the right password among them is refused", async () => {
    await createUser("burst-victim", "the-right-password-1");
    const passwords = Array.from({ length: 49 }, (_, i) => `wrong-guess-${i}`).concat("the-right-password-1");
    const results = await Promise.all(passwords.map((p) => login(fx.hub.url, "burst-victim", p)));
    const statuses = results.map((r) => r.status);
    const evaluated = statuses.filter((s) => s === 401).length;
    const refused = statuses.filter((s) => s === 429).length;
    console.log(`sign-in burst of 50: ${evaluated} evaluated (401), ${refused} refused (429), ${statuses.filter((s) => s === 303).length} signed in`);
    expect(statuses).not.toContain(303);
    expect(evaluated).toBeLessThanOrEqual(PER_USER_FAILURES);
    expect(evaluated + refused).toBe(50);
    // Locked now: the right password alone is refused too, with a Retry-After.
    const after = await login(fx.hub.url, "burst-victim", "the-right-password-1");
    expect(after.status).toBe(429);
    expect(Number(after.headers.get("retry-after"))).toBeGreaterThan(0);
  }, 60_000);

  test("a right password after fewer failures than the limit still signs in and clears them", async () => {
    await createUser("typo-user", "the-right-password-2");
    for (let i = 0; i < PER_USER_FAILURES - 1; i++) expect((await login(fx.hub.url, "typo-user", `typo-${i}`)).status).toBe(401);
    expect((await login(fx.hub.url, "typo-user", "the-right-password-2")).status).toBe(303);
    // The success cleared the count: a full budget again.
    for (let i = 0; i < PER_USER_FAILURES - 1; i++) expect((await login(fx.hub.url, "typo-user", `typo-again-${i}`)).status).toBe(401);
    expect((await login(fx.hub.url, "typo-user", "the-right-password-2")).status).toBe(303);
  }, 60_000);
});

describe("join under a parallel burst", () => {
  test("simultaneous joins with the right secret are not refused by the failure limits", async () => {
    const made = await fx.admin.json("/api/v1/tokens", "POST", { title: "fleet key", role: "managed-instance" });
    const key = (await made.json()) as { clientId: string; secret: string };
    const results = await Promise.all(Array.from({ length: 40 }, () => new FakeAgent(fx.hub.url).join(key.clientId, key.secret)));
    expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
  });

  test("50 simultaneous joins with a wrong secret: at most the per-client limit are checked, the rest are 429", async () => {
    const made = await fx.admin.json("/api/v1/tokens", "POST", { title: "burst key", role: "managed-instance" });
    expect(made.status).toBe(201);
    const key = (await made.json()) as { clientId: string; secret: string };
    const agents = Array.from({ length: 50 }, () => new FakeAgent(fx.hub.url));
    const results = await withRemoteDbLatency(20, () => Promise.all(agents.map((a) => a.join(key.clientId, "chub_sk_wrong-wrong-wrong-wrong-wrong"))));
    const statuses = results.map((r) => r.status);
    const evaluated = statuses.filter((s) => s === 401).length;
    const refused = statuses.filter((s) => s === 429).length;
    console.log(`join burst of 50: ${evaluated} checked (401), ${refused} refused (429)`);
    expect(evaluated).toBeLessThanOrEqual(JOIN_FAILURES_PER_CLIENT);
    expect(evaluated + refused).toBe(50);
    // The right secret is refused while the key is over its failure limit from this address.
    expect((await new FakeAgent(fx.hub.url).join(key.clientId, key.secret)).status).toBe(429);
  });

});

describe("limiter primitives", () => {
  test("reserve counts in the same step as the check; a refund gives the slot back", () => {
    const l = new RateLimiter(2, 60_000);
    const a = l.reserve("k");
    const b = l.reserve("k");
    expect([a.ok, b.ok, l.reserve("k").ok]).toEqual([true, true, false]);
    a.refund();
    a.refund(); // twice is once
    expect(l.count("k")).toBe(1);
    expect(l.reserve("k").ok).toBe(true);
    expect(l.reserve("k").ok).toBe(false);
  });

  test("KeyedLock runs sections sharing a key one at a time", async () => {
    const lock = new KeyedLock();
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        lock.run(i % 2 ? ["a", "b"] : ["b", "a"], async () => {
          most = Math.max(most, ++inside);
          await Bun.sleep(1);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
