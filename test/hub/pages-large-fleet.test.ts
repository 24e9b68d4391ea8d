// Pages stay bounded with a large fleet: pickers list a page of matches, never every instance.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { insertInstance, newInstanceId } from "../../src/db/instances";
import { signIn, startTestHub, type Session, type TestHub } from "../helpers/session";

let hub: TestHub;
let admin: Session;
const FLEET = 450;
let lastId = "";

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
  for (let i = 0; i < FLEET; i++) {
    lastId = newInstanceId();
    await insertInstance(hub.deps.db, lastId, {
      hostname: `node-${String(i).padStart(4, "0")}.fleet.test`,
      os: "linux",
      arch: "x64",
      version: "0.1.0",
      publicKey: `key-${i}`,
      joiningKeyId: null,
      groupName: null,
      syncIntervalSeconds: 60,
    });
  }
});
afterAll(() => hub.stop());

const options = (html: string) => (html.match(/<option value="inst_/g) ?? []).length;

test("the Target Instance picker lists a bounded page and finds any instance by name", async () => {
  const html = await (await admin.fetch("/settings")).text();
  expect(options(html)).toBeLessThanOrEqual(101);
  expect(html).toContain("type part of a hostname to narrow the list");

  const found = await (await admin.fetch("/settings?find=node-0449")).text();
  expect(options(found)).toBe(1);
  expect(found).toContain("node-0449.fleet.test");

  // An instance outside the listed page can still be targeted by id.
  const direct = await (await admin.fetch(`/settings?instance=${lastId}`)).text();
  expect(direct).toContain(`<option value="${lastId}" selected="">node-0449.fleet.test`);
});

test("the Certificates page has no per-instance drop-down; an instance filter shows as a chip", async () => {
  const html = await (await admin.fetch("/certificates")).text();
  expect(options(html)).toBe(0);
  const filtered = await (await admin.fetch(`/certificates?instanceId=${lastId}`)).text();
  expect(filtered).toContain("Instance: node-0449.fleet.test");
  expect(filtered).toContain("Remove instance filter");
});

test("the Instances page paginates server-side", async () => {
  const html = await (await admin.fetch("/instances")).text();
  const rows = (html.match(/href="\/instances\/inst_/g) ?? []).length;
  expect(rows).toBeGreaterThan(0);
  expect(rows).toBeLessThan(FLEET);
  expect(html).toContain(`of ${FLEET}`);
});
