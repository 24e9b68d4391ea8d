// Two hub processes on one database: configs assembled by hub A from its per-scope cache
// (src/hub/core/config-cache.ts) carry every change made through hub B — a global, a group and
// an instance setting, a CA account edit and credential values — in the first config A sends
// after the change (the change feed invalidates A's cached parts before A's config versions
// move). The agents are simulated but sign every request exactly as the real one does.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { seedWaitAgents, type WaitAgent } from "../../bench/held";
import { AGENT_API_PREFIX, sha256HexOf, signRequest, signedPath } from "../../src/protocol";
import type { InstanceConfig } from "../../src/protocol/certificates";
import { runCli, startHub, tempDir, type Hub } from "../helpers";
import { signIn, type Session } from "../helpers/session";

setDefaultTimeout(90_000);

const bin = process.env.CERTHUB_BIN === "source" ? "source" : undefined;

let hubA: Hub;
let hubB: Hub;
let adminB: Session;
let a: Agent; // group "eu", certificate with the group credential
let b: Agent; // group "eu", certificate with the global credential
let c: Agent; // no group, certificate with the global credential

interface Agent extends WaitAgent {
  seq: number;
  version: number;
}

/** A signed sync against `hub` from an agent holding config `version`; the config when one came. */
async function sync(hub: Hub, agent: Agent, version = agent.version): Promise<InstanceConfig | null> {
  const body = JSON.stringify({ settingsVersion: version, cursor: 0 });
  const headers = signRequest(agent.key, { method: "POST", path: signedPath("sync"), instanceId: agent.id, time: Date.now(), seq: ++agent.seq, bootId: agent.bootId, bodySha256: sha256HexOf(body) });
  const res = await fetch(`${hub.url}${AGENT_API_PREFIX}/sync`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  if (res.status === 204) return null;
  if (res.status !== 200) throw new Error(`sync answered ${res.status}: ${text}`);
  const config = (JSON.parse(text) as { config?: InstanceConfig }).config ?? null;
  if (config) agent.version = config.version;
  return config;
}

/** Syncs with hub A until it sends a new config (it learns of B's change through the feed). */
async function nextFromA(agent: Agent): Promise<{ config: InstanceConfig; ms: number }> {
  const t = performance.now();
  while (performance.now() - t < 10_000) {
    const config = await sync(hubA, agent);
    if (config) return { config, ms: performance.now() - t };
    await Bun.sleep(50);
  }
  throw new Error(`hub A sent instance ${agent.id} no new config within 10 s`);
}

async function onB(method: string, path: string, body?: unknown, status = method === "POST" ? 201 : 200): Promise<any> {
  const res = body === undefined ? await adminB.fetch(path, { method }) : await adminB.json(path, method, body);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${path} on hub B: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const tsig = (text: string) => ({ name: "acme-key.", algorithm: "hmac-sha256", secret: Buffer.from(text).toString("base64") });
const secretOf = (config: InstanceConfig, id: string) => Buffer.from(String((config.credentials.find((x) => x.id === id)?.secret as { secret?: string })?.secret ?? ""), "base64").toString();

let ca: { id: string };
let globalCred: { id: string };
let groupCred: { id: string };

beforeAll(async () => {
  const dataDir = tempDir("certhub-config-two-hubs-");
  hubA = await startHub({ dataDir, bin });
  hubB = await startHub({ dataDir, bin });
  adminB = await signIn(hubB.url);
  const created = await runCli(["keys", "create", "--title", "two hubs", "--json"], { dataDir, bin });
  expect(created.code).toBe(0);
  const { clientId } = JSON.parse(created.stdout) as { clientId: string };
  const seeded = await seedWaitAgents(join(dataDir, "hub.db"), clientId, 3, "cfg");
  [a, b, c] = seeded.map((s) => Object.assign(s, { seq: 0, version: 0 }));
  const client = createClient({ url: `file:${join(dataDir, "hub.db")}` });
  await client.execute({ sql: "UPDATE instances SET group_name = 'eu' WHERE id IN (?, ?)", args: [a.id, b.id] });
  client.close();

  ca = await onB("POST", "/api/v1/ca-accounts", { title: "Global CA", directoryUrl: "https://127.0.0.1:14000/dir", email: "ops@example.com", scope: "global" });
  globalCred = await onB("POST", "/api/v1/credentials", { title: "global tsig", type: "tsig", scope: "global", secret: tsig("global-v1") });
  groupCred = await onB("POST", "/api/v1/credentials", { title: "eu tsig", type: "tsig", scope: "group", scopeId: "eu", secret: tsig("eu-v1") });
  for (const [agent, cred] of [[a, groupCred], [b, globalCred], [c, globalCred]] as const) {
    await onB("POST", "/api/v1/managed-certificates", {
      instanceId: agent.id,
      name: `web-${agent.id.slice(-4)}`,
      domains: [`${agent.id.slice(-6).toLowerCase()}.example.com`],
      caAccountId: ca.id,
      challenge: { type: "dns-01", provider: "rfc2136", server: "127.0.0.1:5353", credentialId: cred.id },
    });
  }
  // Hub A assembles every config once, then again from its cache once its feed has caught up.
  for (const agent of [a, b, c]) expect(await sync(hubA, agent)).not.toBeNull();
  await Bun.sleep(1000);
  for (const agent of [a, b, c]) expect((await sync(hubA, agent, 0))?.settings).toBeDefined();
});

afterAll(async () => {
  await Promise.all([hubA?.stop(), hubB?.stop()]);
});

describe("config cache across two hub processes", () => {
  test("a global setting changed through hub B is in hub A's next config of every instance", async () => {
    await onB("PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "global", value: 73 });
    for (const agent of [a, b, c]) {
      const { config, ms } = await nextFromA(agent);
      expect(config.settings.renewalLifetimePercent).toBe(73);
      console.log(`global setting via B → config from A in ${ms.toFixed(0)} ms`);
    }
  });

  test("a group setting through B: the group's instances get it from A, the others keep theirs", async () => {
    await onB("PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "group", scopeId: "eu", value: 63 });
    for (const agent of [a, b]) expect((await nextFromA(agent)).config.settings.renewalLifetimePercent).toBe(63);
    expect((await sync(hubA, c, 0))!.settings.renewalLifetimePercent).toBe(73);
  });

  test("an instance setting through B reaches that instance's config from A", async () => {
    await onB("PUT", "/api/v1/settings/renewalLifetimePercent", { scope: "instance", scopeId: b.id, value: 53 });
    expect((await nextFromA(b)).config.settings.renewalLifetimePercent).toBe(53);
    expect((await sync(hubA, a, 0))!.settings.renewalLifetimePercent).toBe(63);
  });

  test("a CA account edited through B: every instance's next config from A has the new one", async () => {
    await onB("PUT", `/api/v1/ca-accounts/${ca.id}`, { title: "Global CA v2", email: "pki@example.com" });
    for (const agent of [a, b, c]) {
      expect((await nextFromA(agent)).config.caAccounts.find((x) => x.id === ca.id)).toMatchObject({ title: "Global CA v2", email: "pki@example.com" });
    }
  });

  test("credential values replaced through B reach, from A, the instances that use them", async () => {
    await onB("PUT", `/api/v1/credentials/${globalCred.id}`, { secret: tsig("global-v2") });
    for (const agent of [b, c]) expect(secretOf((await nextFromA(agent)).config, globalCred.id)).toBe("global-v2");
    await onB("PUT", `/api/v1/credentials/${groupCred.id}`, { secret: tsig("eu-v2") });
    expect(secretOf((await nextFromA(a)).config, groupCred.id)).toBe("eu-v2");
    expect((await sync(hubA, a, 0))!.credentials.map((x) => x.id)).toEqual([groupCred.id]);
  });
});
