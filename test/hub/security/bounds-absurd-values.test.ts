// Security review #3: one instance must not be able to break the admin pages.
//  - The wire schemas refuse numbers and dates no real agent sends (a notAfter of 9e15 made
//    the instance page, its live refresh and the fleet Certificates page 500 for every admin).
//  - Rows already holding such values (an old agent, a hand edit) still render: every page and
//    API answer is 200, and the value shows as "invalid".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { ago, daysLeft, duration, formatTime, isoDatetime, isoTime } from "../../../src/hub/ui/format";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";
import { FakeAgent } from "../agent-api.fixtures";

let hub: TestHub;
let admin: Session;
let agent: FakeAgent;
let commandId: string;

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
  const key = (await (await admin.json("/api/v1/tokens", "POST", { title: "bounds key", role: "managed-instance" })).json()) as { clientId: string; secret: string };
  agent = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
  const queued = await admin.json(`/api/v1/instances/${agent.instanceId}/commands`, "POST", { type: "ping" });
  commandId = ((await queued.json()) as { commandId: string }).commandId;
});
afterAll(() => hub.stop());

const now = Date.now();
const goodCert = { id: "good", name: "good", domains: ["a.example.com"], source: "certbot", status: "valid", notBefore: now - 86_400_000, notAfter: now + 30 * 86_400_000 };

describe("the sync schema refuses absurd agent-reported values with a 400", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["certificate notAfter 9e15", { certificatesHash: "h1", certificates: [{ ...goodCert, notAfter: 9e15 }] }],
    ["certificate notBefore -1", { certificatesHash: "h1", certificates: [{ ...goodCert, notBefore: -1 }] }],
    ["certificate notAfter 1.5", { certificatesHash: "h1", certificates: [{ ...goodCert, notAfter: now + 0.5 }] }],
    ["result completedAt 9e15", { results: [{ commandId: "c_x", seq: 1, status: "succeeded", message: "ok", completedAt: 9e15 }] }],
    ["result completedAt 0", { results: [{ commandId: "c_x", seq: 1, status: "succeeded", message: "ok", completedAt: 0 }] }],
    ["result seq 9e15", { results: [{ commandId: "c_x", seq: 9e15, status: "succeeded", message: "ok", completedAt: now }] }],
    ["result data over 1 MiB", { results: [{ commandId: "c_x", seq: 1, status: "succeeded", message: "ok", completedAt: now, data: { s: "x".repeat(1_100_000) } }] }],
    ["cursor 9e15", { cursor: 9e15 }],
    ["settingsVersion 9e15", { settingsVersion: 9e15 }],
    ["facts hostname of 300 characters", { facts: { hostname: "h".repeat(300), os: "Linux", arch: "x64", version: "1" } }],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      const res = await agent.sync(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("bad-request");
    });
  }

  test("the same sync with real values is accepted and shown", async () => {
    const res = await agent.sync({ certificatesHash: "h-good", certificates: [goodCert] });
    expect(res.status).toBe(200);
    const certs = (await (await admin.fetch(`/api/v1/certificates?instance=${agent.instanceId}`)).json()) as unknown;
    expect(JSON.stringify(certs)).toContain('"good"');
  });

  test("wait refuses a cursor of 9e15", async () => {
    const res = await agent.send("wait", { cursor: 9e15, settingsVersion: 0, timeoutSeconds: 1 });
    expect(res.status).toBe(400);
  });
});

describe("rows with absurd values written straight into the database still render", () => {
  beforeAll(async () => {
    const { db } = hub.deps;
    const id = agent.instanceId;
    // As an old agent (before the bounds) or a hand edit of hub.db would leave them.
    const rows: [string, unknown, unknown, unknown][] = [
      ["huge", 9e15, -9e15, 9e15],
      ["real", 1.5e300, "2026-01-01", "soon"],
      ["text", "not a time", 1e20, -1e300],
    ];
    for (const [cid, notAfter, notBefore, next] of rows) {
      const detail = JSON.stringify({ attempts: [{ at: 9e15, outcome: "failed", message: "m", steps: [{ name: "order", outcome: "failed", ms: -5 }] }], deployments: [{ index: 0, type: "pem", lastResult: { at: "never", outcome: "failed", message: "m", ms: 1e300 } }], paths: { cert: "/x" } });
      await db.run(sql`insert into certificates (instance_id, id, name, domains, source, status, not_after, not_before, next_renewal_at, updated_at, detail)
        values (${id}, ${`absurd-${cid}`}, ${`absurd ${cid}`}, '["absurd.example.com"]', 'certbot', 'valid', ${notAfter}, ${notBefore}, ${next}, ${now}, ${detail})`);
    }
    await db.run(sql`update commands set status = 'succeeded', completed_at = ${9e15}, delivered_at = ${"yesterday"}, created_at = ${1e300}, result = '{"message":"pong"}' where id = ${commandId}`);
    await db.run(sql`update instances set last_seen_at = ${9e15}, joined_at = ${-9e15} where id = ${id}`);
    await db.run(sql`update api_tokens set last_used_at = ${9e15}, expires_at = ${1e300}`);
    await db.run(sql`update users set last_login_at = ${9e15}`);
    await db.run(sql`insert into audit_log (at, actor_label, action, outcome) values (${9e15}, 'old agent', 'absurd.time', 'success')`);
    // The hub keeps instance state in memory too: make it read the edited row.
    hub.deps.fleet.forget?.(id);
  });

  const pages = () => [
    `/instances/${agent.instanceId}`,
    `/instances/${agent.instanceId}/live`,
    "/certificates",
    `/certificates?instance=${agent.instanceId}`,
    "/instances",
    "/",
    "/settings/api-access",
    "/settings/users",
    "/audit",
    `/certificates/external/${agent.instanceId}/absurd-huge`,
    `/certificates/external/${agent.instanceId}/absurd-text`,
  ];

  test("every admin page answers 200 and shows the bad values as invalid", async () => {
    for (const path of pages()) {
      const res = await admin.fetch(path, path.endsWith("/live") ? { headers: { "hx-request": "true" } } : {});
      const html = await res.text();
      expect(res.status, `${path}: ${html.slice(0, 200)}`).toBe(200);
      if (path !== "/" && path !== "/instances") expect(html, path).toContain("invalid");
    }
  });

  test("the instance page still offers the buttons that cut the instance off", async () => {
    const html = await (await admin.fetch(`/instances/${agent.instanceId}`)).text();
    expect(html).toContain(`/instances/${agent.instanceId}/revoke`);
    expect(html).toContain("absurd.example.com");
  });

  test("the JSON API answers 200 with the stored numbers", async () => {
    for (const path of [`/api/v1/instances/${agent.instanceId}`, "/api/v1/instances", "/api/v1/certificates", `/api/v1/commands/${commandId}`, "/api/v1/tokens", "/api/v1/audit", "/api/v1/principals"]) {
      const res = await admin.fetch(path);
      expect(res.status, path).toBe(200);
      await res.json();
    }
  });
});

test("the formatting helpers are total: never a throw, 'invalid' for what is not a time", () => {
  for (const bad of [9e15, -9e15, 1e300, Number.NaN, Infinity, "soon", "2026-01-01", {}, [], true]) {
    expect(isoTime(bad)).toBe("invalid");
    expect(isoDatetime(bad)).toBeUndefined();
    expect(ago(bad)).toBe("invalid");
    expect(formatTime(bad).relative).toBe("invalid");
    expect(daysLeft(bad)).toBe("invalid");
  }
  for (const none of [null, undefined]) {
    expect(isoTime(none)).toBe("—");
    expect(ago(none)).toBe("never");
    expect(daysLeft(none)).toBe("");
  }
  expect(isoTime(Date.UTC(2026, 10, 24, 19, 30))).toBe("2026-11-24 19:30:00 UTC");
  expect(daysLeft(now + 12.5 * 86_400_000, now)).toBe("12 d left");
  expect(duration(1500)).toBe("1.5 s");
  for (const bad of [-1, Number.NaN, Infinity, "5"]) expect(duration(bad)).toBe("invalid");
});
