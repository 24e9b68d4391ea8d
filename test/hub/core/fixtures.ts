// Fixtures for the certificate-rule tests: an in-process hub with an admin session, instances
// created straight in the database (no join: many at once, with a chosen group) driven by the
// signing fake agent, and helpers that read an instance's config from its sync answer.
import { expect } from "bun:test";
import { insertInstance, newInstanceId } from "../../../src/db/instances";
import { InstanceConfigSchema, type InstanceConfig } from "../../../src/protocol/certificates";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";
import { FakeAgent } from "../agent-api.fixtures";

export interface World {
  hub: TestHub;
  admin: Session;
}

export async function startWorld(): Promise<World> {
  const hub = await startTestHub();
  return { hub, admin: await signIn(hub.url) };
}

/** A joined instance (row written directly) and a fake agent holding its key. */
export async function addInstance(w: World, o: { group?: string | null; hostname?: string; joiningKeyId?: string } = {}): Promise<FakeAgent> {
  const agent = new FakeAgent(w.hub.url);
  const id = newInstanceId();
  await insertInstance(w.hub.deps.db, id, {
    hostname: o.hostname ?? `host-${id.slice(5, 11)}`,
    os: "Debian GNU/Linux 12",
    arch: "x64",
    version: "0.1.0",
    publicKey: agent.keyPair.publicKey,
    joiningKeyId: o.joiningKeyId ?? null,
    groupName: o.group ?? null,
    syncIntervalSeconds: 60,
  });
  agent.instanceId = id;
  return agent;
}

/** Config versions each fake agent last received (what a real agent stores). */
const held = new WeakMap<FakeAgent, number>();

/** Syncs like an agent that holds its last config; returns the new config or null when unchanged. */
export async function syncConfig(agent: FakeAgent, body: Record<string, unknown> = {}): Promise<InstanceConfig | null> {
  const res = await agent.sync({ settingsVersion: held.get(agent) ?? 0, ...body });
  if (res.status === 204) return null;
  expect(res.status).toBe(200);
  const json = (await res.json()) as { config?: InstanceConfig };
  if (!json.config) return null;
  // Exactly what the agent does with it: a config the agent's schema refuses would be lost.
  const checked = InstanceConfigSchema.safeParse(json.config);
  if (!checked.success) throw new Error(`the agent would refuse this config: ${checked.error.message}`);
  held.set(agent, json.config.version);
  return json.config;
}

/** POST/PUT/DELETE as admin; returns status and parsed body. */
export async function call(s: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = body === undefined ? await s.fetch(path, { method }) : await s.json(path, method, body);
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, text };
}

export async function createCaAccount(s: Session, body: Record<string, unknown> = {}) {
  const r = await call(s, "POST", "/api/v1/ca-accounts", { title: "Pebble", directoryUrl: "https://127.0.0.1:14000/dir", email: "ops@example.com", scope: "global", ...body });
  expect(r.status).toBe(201);
  return r.body as { id: string };
}
