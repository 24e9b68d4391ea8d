// The Certificates page over many certificates: pages of 50 in expiry order across the
// boundary between dated and undated (pending) certificates, every certificate exactly once,
// filtered pages and counts, and summary counts that follow a change of the list at once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { signIn, startTestHub, type Session, type TestHub } from "../../../helpers/session";
import { page } from "./helpers";

let hub: TestHub;
let admin: Session;
const INSTANCES = 40;
const PER = 5; // 200 certificates, about one in seven undated (pending)
const now = Date.now();
const DAY = 86_400_000;
const expected: { id: string; notAfter: number | null; status: string; group: string }[] = [];

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
  const db = hub.deps.db;
  const inst = [];
  for (let i = 0; i < INSTANCES; i++) inst.push(sql`(${`inst_m${i}`}, ${`m-${String(i).padStart(3, "0")}.test`}, 'linux', 'x64', '0.1.0', ${`pk${i}`}, ${`g${i % 4}`}, ${now}, ${now})`);
  await db.run(sql`insert into instances (id, hostname, os, arch, version, public_key, group_name, joined_at, updated_at) values ${sql.join(inst, sql`, `)}`);
  const rows = [];
  for (let i = 0; i < INSTANCES; i++)
    for (let k = 0; k < PER; k++) {
      const n = i * PER + k;
      const undated = n % 7 === 3 && expected.filter((e) => e.notAfter === null).length < 30;
      const notAfter = undated ? null : now + ((n * 37) % 120) * DAY + n; // distinct times
      const status = undated ? "pending" : n % 5 === 0 ? "failed" : "valid";
      expected.push({ id: `c${n}`, notAfter, status, group: `g${i % 4}` });
      rows.push(sql`(${`inst_m${i}`}, ${`c${n}`}, ${`cert ${n}`}, ${JSON.stringify([`c${n}.example.com`])}, 'managed', ${status}, ${notAfter}, ${now})`);
    }
  await db.run(sql`insert into certificates (instance_id, id, name, domains, source, status, not_after, updated_at) values ${sql.join(rows, sql`, `)}`);
});
afterAll(() => hub.stop());

const ids = (html: string) => [...html.matchAll(/<tr data-certificate-id="([^"]+)"/g)].map((m) => m[1]);
const order = (list: typeof expected) => [...list.filter((e) => e.notAfter !== null).sort((a, b) => a.notAfter! - b.notAfter!), ...list.filter((e) => e.notAfter === null)].map((e) => e.id);

test("expiry order pages through dated then undated certificates, each exactly once", async () => {
  const seen: string[] = [];
  for (let offset = 0; offset < expected.length + 50; offset += 50) {
    const html = await page(admin, `/certificates${offset ? `?offset=${offset}` : ""}`);
    if (offset < expected.length) expect(html).toContain(`of ${expected.length}`);
    seen.push(...ids(html));
  }
  const undated = new Set(expected.filter((e) => e.notAfter === null).map((e) => e.id));
  expect(seen.length).toBe(expected.length);
  expect(new Set(seen).size).toBe(expected.length);
  const want = order(expected);
  expect(seen.filter((id) => !undated.has(id))).toEqual(want.filter((id) => !undated.has(id)));
  expect(seen.slice(-undated.size).every((id) => undated.has(id))).toBe(true);
});

test("filtered pages and counts: status, group, latest expiry first", async () => {
  const failed = expected.filter((e) => e.status === "failed");
  const html = await page(admin, "/certificates?status=failed");
  expect(html).toContain(`of ${failed.length}`);
  expect(ids(html)).toEqual(order(failed).slice(0, 50));
  const g2 = expected.filter((e) => e.group === "g2");
  const g = await page(admin, "/certificates?group=g2&offset=50");
  expect(ids(g)).toEqual(order(g2).slice(50, 100));
  const latest = await page(admin, "/certificates?sort=-expiry");
  expect(ids(latest)[0]).toBe(order(expected).filter((id) => expected.find((e) => e.id === id)!.notAfter !== null).at(-1)!);
});

test("summary counts follow a change of the list at once", async () => {
  const value = (html: string, h: string) => Number(html.match(new RegExp(`data-health="${h}"><span class="value">(\\d+)`))![1]);
  let html = await page(admin, "/certificates");
  const failed = expected.filter((e) => e.status === "failed").length;
  expect(value(html, "failed")).toBe(failed);
  expect(value(html, "pending")).toBe(expected.filter((e) => e.notAfter === null).length);
  // An agent's report replaces rows (new rowids); a removed instance deletes them.
  await hub.deps.db.run(sql`update certificates set status = 'failed' where id = 'c1'`);
  await hub.deps.db.run(sql`insert into certificates (instance_id, id, name, domains, source, status, not_after, updated_at) values ('inst_m0', 'extra', 'extra', '[]', 'certbot', 'expired', ${now - DAY}, ${now})`);
  html = await page(admin, "/certificates");
  expect(value(html, "expired")).toBe(1);
  expect(html).toContain(`of ${expected.length + 1}`);
  // The newest rows replaced by a report of the same instance reuse their rowids.
  await hub.deps.db.run(sql`delete from certificates where id = 'extra'`);
  await hub.deps.db.run(sql`insert into certificates (instance_id, id, name, domains, source, status, not_after, updated_at) values ('inst_m0', 'extra', 'extra', '[]', 'certbot', 'valid', ${now + DAY}, ${now + 1})`);
  html = await page(admin, "/certificates");
  expect(value(html, "expired")).toBe(0);
  await hub.deps.db.run(sql`delete from instances where id = 'inst_m39'`);
  html = await page(admin, "/certificates");
  expect(html).toContain(`of ${expected.length + 1 - PER}`);
});
