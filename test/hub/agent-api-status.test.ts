// Agent health on the hub: online → offline after 3 missed sync intervals, version skew,
// and join rate limiting (per source address and per client id).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signIn, startTestHub, type Session, type TestHub } from "../helpers/session";
import { FACTS, FakeAgent } from "./agent-api.fixtures";

let hub: TestHub;
let admin: Session;

beforeAll(async () => {
  // A 1 s sync interval for instances joining this hub, so "offline" comes after ~3 s.
  process.env.CERTHUB_SYNC_INTERVAL_SECONDS = "1";
  try {
    hub = await startTestHub();
  } finally {
    delete process.env.CERTHUB_SYNC_INTERVAL_SECONDS;
  }
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

const key = () => hub.bootstrap!.joiningKey;

test("an instance that stops syncing turns offline after 3 intervals, and online again when it syncs", async () => {
  const a = await new FakeAgent(hub.url).joined(key().clientId, key().secret);
  const view = async () => (await admin.fetch(`/api/v1/instances/${a.instanceId}`)).json();
  expect((await view()).status).toBe("online");
  expect((await view()).syncIntervalSeconds).toBe(1);
  await Bun.sleep(3300);
  expect((await view()).status).toBe("offline");
  const offline = (await (await admin.fetch("/api/v1/instances?status=offline")).json()) as { id: string }[];
  expect(offline.map((i) => i.id)).toContain(a.instanceId);
  await a.sync({ settingsVersion: 1 });
  expect((await view()).status).toBe("online"); // from the in-memory heartbeat, before any flush
  await hub.deps.fleet.flushSeen();
  const online = (await (await admin.fetch("/api/v1/instances?status=online")).json()) as { id: string }[];
  expect(online.map((i) => i.id)).toContain(a.instanceId);
});

test("an agent running another version than the hub is flagged", async () => {
  const a = await new FakeAgent(hub.url).joined(key().clientId, key().secret, { ...FACTS, version: "0.0.1" });
  const v = await (await admin.fetch(`/api/v1/instances/${a.instanceId}`)).json();
  expect(v.versionSkew).toBe("older");
  expect(v.hubVersion).not.toBe("0.0.1");
  // An upgrade reported at the next sync clears it.
  await a.sync({ settingsVersion: 1, facts: { ...FACTS, version: v.hubVersion } });
  expect((await (await admin.fetch(`/api/v1/instances/${a.instanceId}`)).json()).versionSkew).toBe("same");
});

test("the Instances page and its live table show status, version and joining key", async () => {
  const a = await new FakeAgent(hub.url).joined(key().clientId, key().secret, { ...FACTS, hostname: "page-host" });
  const page = await (await admin.fetch("/instances")).text();
  expect(page).toContain("page-host");
  expect(page).toContain("Instance Joining Key");
  const table = await (await admin.fetch("/instances/table?q=page-host")).text();
  expect(table).toContain(a.instanceId);
  expect(table).toContain("badge online");
  const detail = await (await admin.fetch(`/instances/${a.instanceId}`)).text();
  expect(detail).toContain("Reset identity");
  expect(detail).toContain('name="_csrf"');
  const certs = await admin.fetch("/certificates?sort=-expiry");
  expect(certs.status).toBe(200);
});

test("failed joins are rate-limited per source address and client id", async () => {
  const a = new FakeAgent(hub.url);
  let limited: Response | null = null;
  for (let i = 0; i < 30 && !limited; i++) {
    const r = await a.join(key().clientId, "chub_sk_wrong");
    if (r.status === 429) limited = r;
    else expect(r.status).toBe(401);
  }
  expect(limited).not.toBeNull();
  expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThan(0);
  expect((await limited!.json()).code).toBe("rate-limited");
  // Even the right secret waits now: this client id is locked from this address for the window.
  expect((await new FakeAgent(hub.url).join(key().clientId, key().secret)).status).toBe(429);
});
