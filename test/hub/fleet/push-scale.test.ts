// Pieces of the push channel at scale (issue 13): push connections per identity (waits and
// sockets under one cap), releasing waits under descriptor pressure, the descriptor budget,
// and the change feed between two connections to one database file (as two hub processes have).
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openHubDatabase } from "../../../src/db/client";
import { hubMeta } from "../../../src/db/schema";
import { countOpenDescriptors, descriptorBudget, readOpenFileLimit } from "../../../src/hub/descriptors";
import { ChangeFeed, type Change } from "../../../src/hub/fleet/change-feed";
import { MAX_WAITERS_PER_INSTANCE, Notifier } from "../../../src/hub/fleet/notifier";
import { tempDir } from "../../helpers";

describe("notifier", () => {
  test("an identity holds at most two waits: a third releases the oldest with no nudge", async () => {
    const n = new Notifier();
    const settled: string[] = [];
    const w = (name: string) => n.wait("inst_a", () => false, 60_000).then((v) => settled.push(`${name}:${v}`));
    const all = [w("first"), w("second"), w("third")];
    await Bun.sleep(10);
    expect(MAX_WAITERS_PER_INSTANCE).toBe(2);
    expect(settled).toEqual(["first:false"]);
    expect(n.size).toBe(2);
    n.releaseAll();
    await Promise.all(all);
    expect(n.size).toBe(0);
  });

  test("waits and sockets share the cap: a socket replaces the oldest wait, a wait never replaces a socket", async () => {
    const n = new Notifier();
    const released: object[] = [];
    n.setSocketHooks({ nudge() {}, release: (s) => released.push(s) });
    const settled: string[] = [];
    const first = n.wait("inst_a", () => false, 60_000).then((v) => settled.push(`first:${v}`));
    const second = n.wait("inst_a", () => false, 60_000).then((v) => settled.push(`second:${v}`));
    const s1 = {};
    const s2 = {};
    expect(n.admits("inst_a")).toBe(true); // full, but a wait can make room
    expect(n.subscribe("inst_a", s1)).toBe(true);
    await Bun.sleep(1);
    expect(settled).toEqual(["first:false"]);
    expect(n.subscribe("inst_a", s2)).toBe(true);
    await Promise.all([first, second]);
    expect(settled).toEqual(["first:false", "second:false"]);
    expect([n.size, n.sockets, n.socketsOf("inst_a")]).toEqual([0, 2, 2]);
    // Two sockets: nothing more of this identity is held, and no socket is closed for it.
    expect(n.admits("inst_a")).toBe(false);
    expect(n.subscribe("inst_a", {})).toBe(false);
    expect(await n.wait("inst_a", () => false, 60_000)).toBe(false);
    expect([n.size, n.sockets, released.length]).toEqual([0, 2, 0]);
    expect(n.admits("inst_b")).toBe(true);
    n.unsubscribe("inst_a", s1);
    expect([n.sockets, n.socketsOf("inst_a"), n.admits("inst_a")]).toEqual([1, 1, true]);
    n.releaseAll();
    expect(released).toEqual([s2]);
  });

  test("a nudge wakes every connection the identity holds (two clones' waits, or a wait beside a socket)", async () => {
    // Two agents sharing one identity (a cloned VM) each hold a wait; a reset-identity nudge
    // must reach both. (It once reached only the first: the second was skipped while the first
    // removed itself from the list being walked.)
    const n = new Notifier();
    const nudged: object[] = [];
    n.setSocketHooks({ nudge: (s) => nudged.push(s), release() {} });
    let woke = false;
    const waits = [n.wait("inst_a", () => woke, 60_000), n.wait("inst_a", () => woke, 60_000)];
    woke = true;
    n.notify("inst_a");
    expect(await Promise.all(waits)).toEqual([true, true]);
    const socket = {};
    const wait = n.wait("inst_b", () => woke, 60_000);
    n.subscribe("inst_b", socket);
    n.notify("inst_b");
    expect(await wait).toBe(true);
    expect(nudged).toEqual([socket]);
  });

  test("releaseOldest ends the longest-held waits first and counts them", async () => {
    const n = new Notifier();
    const order: string[] = [];
    const ps = ["a", "b", "c", "d"].map((id) => n.wait(`inst_${id}`, () => false, 60_000).then(() => order.push(id)));
    expect(n.releaseOldest(2)).toBe(2);
    await Bun.sleep(10);
    expect(order).toEqual(["a", "b"]);
    expect(n.size).toBe(2);
    n.releaseAll();
    await Promise.all(ps);
  });
});

describe("descriptor budget", () => {
  test("this process's limit and count are readable, and the budget sheds well before the limit", () => {
    const limit = readOpenFileLimit();
    expect(limit).toBeGreaterThan(0);
    expect(countOpenDescriptors()!.count).toBeGreaterThan(2);
    const b = descriptorBudget(1024);
    expect(b.resumeAt).toBeLessThan(b.shedAt);
    expect(b.shedAt).toBeLessThan(b.criticalAt);
    expect(b.criticalAt).toBeLessThan(1024);
    expect(b.shedAt).toBeGreaterThan(700);
  });
});

describe("change feed between two connections to one database", () => {
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });

  test("a change published on one connection is applied on the other, once, and never echoed back", async () => {
    const file = `file:${join(tempDir("certhub-feed-"), "hub.db")}`;
    const a = await openHubDatabase(file);
    const b = await openHubDatabase(file);
    open.push(a, b);
    const gotA: Change[] = [];
    const gotB: Change[] = [];
    const feedA = new ChangeFeed(a.db, async (c) => void gotA.push(...c));
    const feedB = new ChangeFeed(b.db, async (c) => void gotB.push(...c));
    await feedA.poll();
    await feedB.poll();
    await feedB.publish({ ids: ["inst_1"] });
    await feedB.publish({ keyId: "tok_1" });
    await feedA.poll();
    await feedB.poll();
    expect(gotA).toEqual([{ ids: ["inst_1"] }, { keyId: "tok_1" }]);
    expect(gotB).toEqual([]); // its own changes
    await feedA.poll(); // nothing new committed: nothing applied again
    expect(gotA.length).toBe(2);
  });

  test("rows older than two minutes are pruned", async () => {
    const file = `file:${join(tempDir("certhub-feed-"), "hub.db")}`;
    const a = await openHubDatabase(file);
    const b = await openHubDatabase(file);
    open.push(a, b);
    const feedA = new ChangeFeed(a.db, async () => {});
    await a.db.insert(hubMeta).values({ key: `fleet.change.${String(Date.now() - 600_000).padStart(13, "0")}.old.1`, value: "{}" });
    await new ChangeFeed(b.db, async () => {}).publish({ all: true });
    await feedA.poll();
    const keys = (await a.db.select().from(hubMeta)).map((r) => r.key).filter((k) => k.startsWith("fleet.change."));
    expect(keys.length).toBe(1);
    expect(keys[0]).not.toContain(".old.");
  });
});
