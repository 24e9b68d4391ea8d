// Joins from a shared address (security review #5 applied to joins): a fleet behind one NAT
// shares an address, and one host there with a wrong secret must not lock out the good hosts.
// Before the fix, 20 failures from an address refused every join from it for a minute.
// Like sign-in: a lock per address+client id after a few failures, and a higher per-address
// limit that stops a spray of client ids but never blocks a client id that has not failed.
// The hub trusts the loopback peer as its proxy, so each test picks its own client address.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolveHubConfig } from "../../../src/hub/config";
import { createHub } from "../../../src/hub/server";
import { JOIN_FAILURES_PER_ADDRESS, JOIN_FAILURES_PER_CLIENT } from "../../../src/hub/security/join-limits";
import { ADMIN_PASSWORD, tempDir } from "../../helpers";
import { signIn, type Session } from "../../helpers/session";
import { FakeAgent } from "../agent-api.fixtures";
import { createJoiningKey } from "../joining-keys.fixtures";

let hub: Awaited<ReturnType<typeof createHub>>;
let admin: Session;
beforeAll(async () => {
  const previous = process.env.CERTHUB_ADMIN_PASSWORD;
  process.env.CERTHUB_ADMIN_PASSWORD = ADMIN_PASSWORD;
  try {
    hub = await createHub(resolveHubConfig({ "data-dir": tempDir("certhub-join-nat-"), listen: "127.0.0.1:0", http: true, "trust-proxy": "127.0.0.1" }));
  } finally {
    if (previous === undefined) delete process.env.CERTHUB_ADMIN_PASSWORD;
    else process.env.CERTHUB_ADMIN_PASSWORD = previous;
  }
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

/** A join from `address` (as the trusted proxy reports it). */
function joinFrom(address: string, clientId: string, secret: string, agent = new FakeAgent(hub.url)) {
  return agent.send("join", { clientId, secret, publicKey: agent.keyPair.publicKey, facts: { hostname: "nat-host", os: "Linux", arch: "x64", version: "0.1.0" } }, { seq: 0, headers: { "x-forwarded-for": address } });
}

async function joinFailuresAudited(address: string) {
  const res = await admin.fetch("/api/v1/audit?q=instance.join&limit=200");
  const rows = (await res.json()) as { ip: string; outcome: string; detail: { count?: number } | null }[];
  return rows.filter((r) => r.ip === address && r.outcome === "failure");
}

describe("one address shared by a fleet", () => {
  test("one host hammering with a wrong secret locks only its own client id; the fleet's joins go through", async () => {
    const nat = "198.51.100.20";
    const bad = await createJoiningKey(admin, { role: "managed-instance" });
    const fleetKey = await createJoiningKey(admin, { role: "managed-instance" });

    // The misconfigured host retries with its wrong secret, far past every limit.
    const hammering: number[] = [];
    for (let i = 0; i < 60; i++) hammering.push((await joinFrom(nat, bad.clientId, "chub_sk_wrong-wrong-wrong-wrong")).status);
    expect(hammering.filter((s) => s === 401).length).toBe(JOIN_FAILURES_PER_CLIENT);
    expect(hammering.slice(JOIN_FAILURES_PER_CLIENT).every((s) => s === 429)).toBe(true);

    // The good hosts behind the same address join with their key (old code: all 429).
    const fleet = await Promise.all(Array.from({ length: 10 }, () => joinFrom(nat, fleetKey.clientId, fleetKey.secret)));
    expect(fleet.map((r) => r.status)).toEqual(Array(10).fill(200));

    // The bad client id is locked from that address, even once its host gets the secret right…
    const locked = await joinFrom(nat, bad.clientId, bad.secret);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    // …but not everywhere: the lock is per address, so the failures cannot shut a key out for all.
    expect((await joinFrom("198.51.100.21", bad.clientId, bad.secret)).status).toBe(200);

    // Refused tries cost no audit rows: one per evaluated failure.
    expect((await joinFailuresAudited(nat)).length).toBe(JOIN_FAILURES_PER_CLIENT);
  }, 60_000);

  test("a wrong secret after a right one starts from a clean count (a success clears it)", async () => {
    const address = "198.51.100.30";
    const key = await createJoiningKey(admin, { role: "managed-instance" });
    for (let i = 0; i < JOIN_FAILURES_PER_CLIENT - 1; i++) expect((await joinFrom(address, key.clientId, "chub_sk_typo")).status).toBe(401);
    expect((await joinFrom(address, key.clientId, key.secret)).status).toBe(200);
    for (let i = 0; i < JOIN_FAILURES_PER_CLIENT - 1; i++) expect((await joinFrom(address, key.clientId, "chub_sk_typo-again")).status).toBe(401);
    expect((await joinFrom(address, key.clientId, key.secret)).status).toBe(200);
  }, 60_000);

  test("a right secret for an unusable key is not a guess: each retry gets its own error, never a lock", async () => {
    const address = "198.51.100.40";
    const key = await createJoiningKey(admin, { role: "managed-instance", maxUses: 1 });
    expect((await joinFrom(address, key.clientId, key.secret)).status).toBe(200);
    for (let i = 0; i < 25; i++) {
      const res = await joinFrom(address, key.clientId, key.secret);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe("key-used-up");
    }
  }, 60_000);

  test("a spray of client ids from one address is stopped by the per-address limit, and a host that has not failed still joins", async () => {
    const sprayer = "192.0.2.66";
    const extra = 30;
    const spray = await Promise.all(
      Array.from({ length: JOIN_FAILURES_PER_ADDRESS + extra }, (_, i) => joinFrom(sprayer, `chub_id_sprayed${i}`, "chub_sk_guess")),
    );
    const statuses = spray.map((r) => r.status);
    console.log(`join spray of ${statuses.length} client ids: ${statuses.filter((s) => s === 401).length} × 401, ${statuses.filter((s) => s === 429).length} × 429`);
    expect(statuses.filter((s) => s === 401).length).toBe(JOIN_FAILURES_PER_ADDRESS);
    expect(statuses.filter((s) => s === 429).length).toBe(extra);
    // Still stopped afterwards, one client id at a time.
    for (let i = 0; i < 5; i++) expect((await joinFrom(sprayer, `chub_id_later${i}`, "chub_sk_guess")).status).toBe(429);

    // A real host from that address, with a client id that has not failed there: joins.
    const key = await createJoiningKey(admin, { role: "managed-instance" });
    expect((await joinFrom(sprayer, key.clientId, key.secret)).status).toBe(200);
    // Over the address limit a client id gets one try: a single wrong secret locks it there.
    const other = await createJoiningKey(admin, { role: "managed-instance" });
    expect((await joinFrom(sprayer, other.clientId, "chub_sk_wrong")).status).toBe(429);
    expect((await joinFrom(sprayer, other.clientId, other.secret)).status).toBe(429);

    // A revoked key with its right secret still hears why, not 429.
    const revoked = await createJoiningKey(admin, { role: "managed-instance" });
    expect((await admin.fetch(`/api/v1/tokens/${revoked.clientId}/revoke`, { method: "POST" })).status).toBe(200);
    const revokedJoin = await joinFrom(sprayer, revoked.clientId, revoked.secret);
    expect(revokedJoin.status).toBe(403);
    expect(((await revokedJoin.json()) as { code: string }).code).toBe("key-revoked");

    // The audit log got one row per evaluated failure plus one counted row for the rest.
    const rows = await joinFailuresAudited(sprayer);
    expect(rows.length).toBe(JOIN_FAILURES_PER_ADDRESS + 1 + 1); // + the revoked key's own row
    await hub.deps.services.find((s) => s.name === "join-audit-bursts")?.stop();
    const counted = (await joinFailuresAudited(sprayer)).find((r) => r.detail?.count !== undefined);
    expect(counted?.detail?.count).toBe(extra + 5 + 1);
  }, 60_000);
});
