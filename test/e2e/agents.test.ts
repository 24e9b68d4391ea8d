// End to end with the compiled binary: one hub, agents in separate data dirs on their own
// loopback ports. Joining (curl-style with the seed's body, `certhub hub join`, --join at
// start), commands across restarts (exactly once, in order), push latency, revocation of
// key A vs key B, expiry/max uses, clones and identity reset, and the local API guards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, cpSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { binPath, runCli, startHub, tempDir, type Hub } from "../helpers";
import { percentile, startAgent, until, type RunningAgent } from "./agents.fixtures";

let hubDir: string;
let hub: Hub;
let adminAuth: Record<string, string>;
const agents: RunningAgent[] = [];

async function keysCreate(args: string[]) {
  const r = await runCli(["keys", "create", "--json", ...args], { dataDir: hubDir });
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { clientId: string; secret: string };
}

const api = (p: string, init: RequestInit = {}) => fetch(`${hub.url}/api/v1${p}`, { ...init, headers: { ...adminAuth, "content-type": "application/json", ...(init.headers as Record<string, string>) } });
const instances = async () => (await (await api("/instances")).json()) as any[];
const instance = async (id: string) => (await api(`/instances/${id}`)).json();

async function agent(opts: { dataDir?: string; args?: string[]; bin?: string; port?: number } = {}) {
  const a = await startAgent({ dataDir: opts.dataDir ?? tempDir("certhub-e2e-agent-"), args: opts.args, bin: opts.bin, port: opts.port });
  agents.push(a);
  return a;
}

/** The seed's curl: POST /api/system/hub/join with {"clientId","secret","url"} (+ the bearer token). */
async function curlJoin(a: RunningAgent, key: { clientId: string; secret: string }, url = hub.url) {
  return a.api("/api/system/hub/join", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ clientId: key.clientId, secret: key.secret, url }),
  });
}

async function queue(instanceId: string, type = "ping", payload: unknown = {}) {
  const res = await api(`/instances/${instanceId}/commands`, { method: "POST", body: JSON.stringify({ type, payload }) });
  expect(res.status).toBe(202);
  return (await res.json()) as { commandId: string; seq: number };
}

beforeAll(async () => {
  hubDir = tempDir("certhub-e2e-hub-");
  hub = await startHub({ dataDir: hubDir });
  const adminKey = await keysCreate(["--title", "e2e admin", "--role", "administrator"]);
  adminAuth = { authorization: `Basic ${btoa(`${adminKey.clientId}:${adminKey.secret}`)}` };
});

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  await hub?.stop();
});

describe("joining", () => {
  test("two agents join — by curl with the seed's body and by `certhub hub join` — and appear within 5 s", async () => {
    // The binary alone in an empty folder runs the agent.
    const lonely = tempDir("certhub-e2e-bin-");
    const bin = path.join(lonely, "certhub");
    copyFileSync(binPath(), bin);
    chmodSync(bin, 0o755);
    const key = await keysCreate(["--title", "Instance Joining Key 2", "--group", "org-one"]);

    const a1 = await agent({ bin });
    const started = Date.now();
    const res = await curlJoin(a1, key);
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body.joined).toBe(true);
    expect(body.instanceId).toStartWith("inst_");
    expect(body.warning).toContain("Do not join a hub you don't control or trust");

    const a2 = await agent({ bin });
    const cli = await runCli(["hub", "join", hub.url, key.clientId, key.secret, "--data-dir", a2.dataDir, "--listen", a2.listen], { bin });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("Do not join a hub you don't control or trust");
    const id2 = /instance (inst_\w+)/.exec(cli.stdout)?.[1];
    expect(id2).toBeDefined();

    const both = await until("both instances listed", async () => {
      const list = await instances();
      const found = list.filter((i) => i.id === body.instanceId || i.id === id2);
      return found.length === 2 && found.every((i) => i.status === "online") ? found : undefined;
    }, 5000);
    expect(Date.now() - started).toBeLessThan(5000 + 2000);
    for (const i of both) expect(i.joiningKey).toMatchObject({ clientId: key.clientId, group: "org-one" });

    // …and on the Instances page.
    const login = await fetch(`${hub.url}/login`, { method: "POST", body: new URLSearchParams({ username: "admin", password: "certhub-test-admin-pw" }), redirect: "manual" });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
    const page = await (await fetch(`${hub.url}/instances`, { headers: { cookie } })).text();
    expect(page).toContain(body.instanceId);
    expect(page).toContain(id2!);
    expect(page).toContain('hx-trigger="every 5s"');

    const status = await a1.status();
    expect(status).toMatchObject({ joined: true, hubUrl: hub.url, instanceId: body.instanceId, status: "connected" });
    const cliStatus = await runCli(["hub", "status", "--data-dir", a2.dataDir, "--listen", a2.listen], { bin });
    expect(cliStatus.stdout).toContain("connected");
    expect(cliStatus.stdout).toContain(id2!);
  });

  test("non-interactive join at start with --join/--client-id/--secret-file", async () => {
    const key = await keysCreate(["--title", "provisioning"]);
    const dir = tempDir("certhub-e2e-agent-");
    const secretFile = path.join(dir, "join.secret");
    writeFileSync(secretFile, `${key.secret}\n`, { mode: 0o600 });
    const a = await agent({ dataDir: dir, args: ["--join", hub.url, "--client-id", key.clientId, "--secret-file", secretFile] });
    const s = await until("joined at start", async () => {
      const st = await a.status();
      return st.status === "connected" ? st : undefined;
    });
    expect(a.output()).toContain("Do not join a hub you don't control or trust");
    expect((await instance(s.instanceId)).status).toBe("online");
  });

  test("expired and used-up keys are refused with a clear message", async () => {
    const once = await keysCreate(["--title", "single use", "--max-uses", "1"]);
    const a = await agent();
    expect((await curlJoin(a, once)).status).toBe(200);
    const b = await agent();
    const second = await curlJoin(b, once);
    expect(second.status).toBe(403);
    expect((await second.json()).error).toContain("maximum number of uses");

    const shortLived = await keysCreate(["--title", "short", "--expires", "1s"]);
    await Bun.sleep(1100);
    const expired = await curlJoin(b, shortLived);
    expect(expired.status).toBe(403);
    expect((await expired.json()).error).toContain("expired");

    const wrong = await curlJoin(b, { clientId: once.clientId, secret: "chub_sk_wrong" });
    expect(wrong.status).toBe(403);
    expect((await wrong.json()).error).toContain("wrong secret");
    const unreachable = await curlJoin(b, once, "http://127.0.0.1:9");
    expect(unreachable.status).toBe(422);
    expect((await unreachable.json()).error).toContain("cannot reach the hub");
  });
});

describe("commands", () => {
  test("100 commands queued while the agent is down survive hub and agent restarts and run exactly once, in order", async () => {
    const key = await keysCreate(["--title", "commands"]);
    const dir = tempDir("certhub-e2e-agent-");
    let a = await agent({ dataDir: dir });
    const { instanceId } = await (await curlJoin(a, key)).json();
    await until("connected", async () => (await a.status()).status === "connected");
    await a.stop();

    const queued: string[] = [];
    for (let i = 0; i < 100; i++) queued.push((await queue(instanceId, "ping")).commandId);
    await hub.stop();
    hub = await startHub({ dataDir: hubDir, port: hub.port });
    a = await agent({ dataDir: dir, port: Number(a.listen.split(":")[1]) });

    const done = await until("100 results at the hub", async () => {
      const list = (await (await api(`/instances/${instanceId}/commands?limit=200`)).json()) as any[];
      return list.filter((c) => c.status === "succeeded").length === 100 ? list : undefined;
    }, 30_000);
    expect(done).toHaveLength(100);

    // The agent's own record: each id executed once, in queue order.
    const executed = (await (await a.api("/api/system/commands")).json()) as { id: string; seq: number }[];
    expect(executed.map((c) => c.id)).toEqual(queued);
    expect(executed.map((c) => c.seq)).toEqual(queued.map((_, i) => i + 1));
    expect((await a.status()).commands).toMatchObject({ done: 100, running: 0, received: 0, unacknowledgedResults: 0 });

    // Restarting the agent once more does not run anything again.
    await a.stop();
    a = await agent({ dataDir: dir, port: Number(a.listen.split(":")[1]) });
    await until("connected again", async () => (await a.status()).status === "connected");
    await Bun.sleep(300);
    expect(((await (await a.api("/api/system/commands")).json()) as unknown[]).length).toBe(100);
  }, 60_000);

  test("push latency: a queued command reaches an online agent within 2 s", async () => {
    const key = await keysCreate(["--title", "latency"]);
    const a = await agent();
    const { instanceId } = await (await curlJoin(a, key)).json();
    await until("connected", async () => (await a.status()).status === "connected");
    await Bun.sleep(200); // the long-poll is open
    const latencies: number[] = [];
    const N = 100;
    for (let i = 0; i < N; i++) {
      const { commandId } = await queue(instanceId, "ping");
      const cmd = await until(`command ${i} executed`, async () => {
        const c = await (await api(`/commands/${commandId}`)).json();
        return c.status === "succeeded" ? c : undefined;
      }, 5000, 2);
      // Hub clock (queued) and agent clock (completed) are the same host clock here.
      latencies.push(cmd.result ? (await executedAt(a, commandId)) - cmd.createdAt : NaN);
    }
    latencies.sort((x, y) => x - y);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(`push latency (queued at hub → executed on agent), n=${N}: p50 ${p50} ms, p99 ${p99} ms, max ${latencies[N - 1]} ms`);
    expect(p99).toBeLessThan(2000);
  }, 60_000);
});

async function executedAt(a: RunningAgent, commandId: string): Promise<number> {
  const list = (await (await a.api("/api/system/commands")).json()) as { id: string; startedAt: number }[];
  return list.find((c) => c.id === commandId)!.startedAt;
}

describe("revocation", () => {
  test("`certhub keys revoke` on key A cuts off A's agents within seconds; key B's agents keep working", async () => {
    const keyA = await keysCreate(["--title", "org A", "--group", "A"]);
    const keyB = await keysCreate(["--title", "org B", "--group", "B"]);
    const a = await agent();
    const b = await agent();
    const idA = (await (await curlJoin(a, keyA)).json()).instanceId;
    const idB = (await (await curlJoin(b, keyB)).json()).instanceId;
    await until("both connected", async () => (await a.status()).status === "connected" && (await b.status()).status === "connected");
    await Bun.sleep(200);

    const r = await runCli(["keys", "revoke", keyA.clientId], { dataDir: hubDir });
    expect(r.code).toBe(0);
    const t = Date.now();
    const sa = await until("agent A reports access revoked", async () => {
      const s = await a.status();
      return s.accessRevoked ? s : undefined;
    }, 10_000);
    console.log(`key revoked by the CLI → agent reports "access revoked" after ${Date.now() - t} ms`);
    expect(sa.status).toBe("access revoked");
    expect((await instance(idA)).status).toBe("revoked");

    // B still receives and runs commands.
    const { commandId } = await queue(idB, "ping");
    await until("B ran the command", async () => (await (await api(`/commands/${commandId}`)).json()).status === "succeeded");
    expect((await instance(idB)).status).toBe("online");
    expect((await b.status()).status).toBe("connected");
  }, 30_000);
});

describe("identity", () => {
  test("a copied data dir → identity conflict on the API; reset identity → the copy re-joins as a new instance", async () => {
    const key = await keysCreate(["--title", "clones", "--group", "vm-template"]);
    const dirA = tempDir("certhub-e2e-agent-");
    let a = await agent({ dataDir: dirA });
    const id = (await (await curlJoin(a, key)).json()).instanceId;
    await until("connected", async () => (await a.status()).status === "connected");
    const portA = Number(a.listen.split(":")[1]);
    await a.stop();

    const dirB = tempDir("certhub-e2e-clone-");
    cpSync(dirA, dirB, { recursive: true }); // the cloned VM
    a = await agent({ dataDir: dirA, port: portA });
    const b = await agent({ dataDir: dirB });

    const flagged = await until("conflict flagged", async () => {
      const i = await instance(id);
      return i.identityConflict ? i : undefined;
    }, 10_000);
    expect(flagged.status).toBe("conflict");
    const list = await instances();
    expect(list.find((i) => i.id === id)?.identityConflict).toBe(true);
    await until("an agent reports the conflict", async () => (await a.status()).identity === "conflict" || (await b.status()).identity === "conflict", 10_000);

    expect((await api(`/instances/${id}/reset-identity`, { method: "POST" })).status).toBe(200);
    const ids = await until("both re-keyed and connected", async () => {
      const [sa, sb] = [await a.status(), await b.status()];
      const ok = sa.status === "connected" && sb.status === "connected" && sa.identity === "ok" && sb.identity === "ok" && sa.instanceId !== sb.instanceId;
      return ok ? [sa.instanceId, sb.instanceId] : undefined;
    }, 15_000);
    expect(ids).toContain(id);
    const newId = ids.find((x: string) => x !== id);
    const clone = await instance(newId);
    expect(clone).toMatchObject({ clonedFromId: id, identityConflict: false, group: "vm-template" });
    expect((await instance(id)).identityConflict).toBe(false);
    // Both work: each runs a command.
    for (const target of [id, newId]) {
      const { commandId } = await queue(target, "ping");
      await until(`command on ${target}`, async () => (await (await api(`/commands/${commandId}`)).json()).status === "succeeded");
    }
  }, 60_000);
});

describe("local API", () => {
  test("no token → 401 naming the token file; foreign Host or Origin → rejected; token file is 0600", async () => {
    const a = await agent();
    const noToken = await fetch(`${a.url}/api/system/status`);
    expect(noToken.status).toBe(401);
    expect((await noToken.json()).error).toContain(a.tokenFile);
    const host = await a.api("/api/system/status", { headers: { host: "rebind.attacker.example" } });
    expect(host.status).toBe(403);
    const origin = await a.api("/api/system/hub/join", { method: "POST", headers: { origin: "https://attacker.example", "content-type": "application/json" }, body: "{}" });
    expect(origin.status).toBe(403);
    expect(existsSync(a.tokenFile)).toBe(true);
    expect((await Bun.file(a.tokenFile).stat()).mode & 0o777).toBe(0o600);
    const bad = await a.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain("JSON");
  });

  test("leave through the CLI removes the instance from the hub", async () => {
    const key = await keysCreate(["--title", "leaver"]);
    const a = await agent();
    const id = (await (await curlJoin(a, key)).json()).instanceId;
    await until("connected", async () => (await a.status()).status === "connected");
    const r = await runCli(["hub", "leave", "--data-dir", a.dataDir, "--listen", a.listen]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Left the hub");
    expect((await api(`/instances/${id}`)).status).toBe(404);
    expect((await a.status()).joined).toBe(false);
  });
});
