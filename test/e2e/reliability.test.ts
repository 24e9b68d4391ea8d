// Reliability with the compiled binary (issue 7, "Reliability"):
//  - kill -9 of the hub while agents sync and commands are queued: after the restart nothing is
//    lost, nothing runs twice, and signed state-changing requests captured before the crash
//    are refused when replayed;
//  - kill -9 of an agent while it runs a command: the command is reported as interrupted and
//    never run again;
//  - the hub's database on a full or read-only filesystem (a small tmpfs and a read-only bind
//    mount: this runs as root, which ignores file modes): a clear error at start or in the
//    failing request, reads keep working (signed-in pages too: the session's last-seen refresh
//    is best-effort), and the database is intact afterwards.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { ADMIN_PASSWORD, runCli, startHub, tempDir, type Hub } from "../helpers";
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

async function killHard(p: { proc: { kill(signal?: number | NodeJS.Signals): void; exited: Promise<number> } }) {
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

  test("database on a full disk: reads keep working, writes fail and resume once space is freed, nothing is corrupted", async () => {
    const mnt = mountTmpfs("32m");
    const dataDir = path.join(mnt, "hub");
    mkdirSync(dataDir);
    const hub = await startHub({ dataDir });
    running.push(hub);
    const api = apiOf(() => hub, await adminKey(dataDir));
    const key = await joiningKey(dataDir);
    const fake = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
    expect((await api("/tokens", { method: "POST", body: JSON.stringify({ title: "made before the disk filled" }) })).status).toBe(201);

    const filler = fillDisk(mnt);
    // Reads: the admin API (by API token), health, and the agents' unchanged syncs.
    const list = await api("/instances");
    expect(list.status).toBe(200);
    expect(((await list.json()) as { id: string }[]).map((i) => i.id)).toContain(fake.instanceId);
    expect((await api("/tokens")).status).toBe(200);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await fake.sync({ settingsVersion: 1, cursor: 0 })).status).toBe(204);
    // A state-changing agent request is refused with a sentence saying why, and no effect.
    const refused = await fake.sync({ settingsVersion: 1, cursor: 0, facts: { ...FACTS, hostname: "while-full" } });
    expect(refused.status).toBe(503);
    expect((await refused.json()).error).toContain("disk holding the hub's database is full");
    // An admin write fails as a server error (no partial effect), and the hub stays up.
    const write = await api("/tokens", { method: "POST", body: JSON.stringify({ title: "made while full" }) });
    expect(write.status).toBeGreaterThanOrEqual(500);
    console.log(`full disk: admin write answered ${write.status} ${await write.text()}`);
    expect((await api("/instances")).status).toBe(200);

    rmSync(filler, { recursive: true });
    expect((await api("/tokens", { method: "POST", body: JSON.stringify({ title: "made after space was freed" }) })).status).toBe(201);
    expect((await fake.sync({ settingsVersion: 1, cursor: 0, facts: { ...FACTS, hostname: "after-full" } })).status).toBeLessThan(300);
    await hub.stop();
    expect(integrity(path.join(dataDir, "hub.db"))).toBe("ok");
    const db = new Database(path.join(dataDir, "hub.db"), { readonly: true });
    const titles = (db.query("select title from api_tokens").all() as { title: string }[]).map((r) => r.title);
    const hostname = (db.query("select hostname from instances where id = ?").get(fake.instanceId) as { hostname: string }).hostname;
    db.close();
    expect(titles).toContain("made before the disk filled");
    expect(titles).toContain("made after space was freed");
    expect(titles).not.toContain("made while full");
    expect(hostname).toBe("after-full");
  }, 60_000);

  test("database on a full disk: signed-in pages answer 200 even when the session is due its last-seen refresh", async () => {
    const mnt = mountTmpfs("32m");
    const dataDir = path.join(mnt, "hub");
    mkdirSync(dataDir);
    const hub = await startHub({ dataDir });
    running.push(hub);
    const signedIn = await fetch(`${hub.url}/login`, { method: "POST", body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD }), redirect: "manual" });
    expect(signedIn.status).toBe(303);
    const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = ((await (await fetch(`${hub.url}/api/v1/me`, { headers: { cookie } })).json()) as { csrfToken: string }).csrfToken;
    const page = (p: string) => fetch(`${hub.url}${p}`, { headers: { cookie }, redirect: "manual" });
    expect((await page("/instances")).status).toBe(200);

    // Last seen 5 minutes ago: every request now wants to write the session's refresh.
    const dbFile = path.join(dataDir, "hub.db");
    const backdated = Date.now() - 5 * 60_000;
    const sql = new Database(dbFile);
    sql.run("update sessions set last_seen_at = ?", [backdated]);
    sql.close();

    const filler = fillDisk(mnt);
    // Reads: several signed-in pages and the API by session, each wanting the refresh.
    for (const p of ["/instances", "/certificates", "/settings/users", "/settings/api-access", "/instances"]) {
      const res = await page(p);
      expect(`${p} ${res.status}`).toBe(`${p} 200`);
      expect(await res.text()).toContain("<!DOCTYPE html>");
    }
    expect((await page("/api/v1/instances")).status).toBe(200);
    // The disk really is full: a write by that session fails, naming the full disk.
    const write = await fetch(`${hub.url}/api/v1/tokens`, { method: "POST", headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json" }, body: JSON.stringify({ title: "made while full" }) });
    expect(write.status).toBe(503);
    // The failed refreshes are logged once, not once per request.
    const logged = hub.stderr().split("cannot record session activity").length - 1;
    expect(logged).toBe(1);
    expect(hub.stderr()).toContain("full");

    rmSync(filler, { recursive: true });
    expect((await page("/instances")).status).toBe(200);
    await hub.stop();
    expect(integrity(dbFile)).toBe("ok");
    const after = new Database(dbFile, { readonly: true });
    const { last_seen_at } = after.query("select last_seen_at from sessions").get() as { last_seen_at: number };
    after.close();
    // Once there was space again, the refresh was written.
    expect(last_seen_at).toBeGreaterThan(backdated);
  }, 60_000);

  test("database on a full disk: a failing admin write names the full disk instead of 'internal error'", async () => {
    const mnt = mountTmpfs("32m");
    const dataDir = path.join(mnt, "hub");
    mkdirSync(dataDir);
    const hub = await startHub({ dataDir });
    running.push(hub);
    const api = apiOf(() => hub, await adminKey(dataDir));
    const filler = fillDisk(mnt);
    const write = await api("/tokens", { method: "POST", body: JSON.stringify({ title: "made while full" }) });
    rmSync(filler, { recursive: true });
    expect(write.status).toBe(503);
    expect((await write.json()).error).toContain("full");
  }, 30_000);

  test("read-only database directory: the hub refuses to start with an error naming the cause, and the database is intact", async () => {
    const dataDir = tempDir("certhub-rel-ro-");
    const hub = await startHub({ dataDir });
    await hub.stop();
    bindReadOnly(dataDir);
    let failure = "";
    try {
      const started = await startHub({ dataDir, timeoutMs: 10_000 });
      running.push(started);
    } catch (e) {
      failure = String(e);
    }
    expect(failure).toContain("hub exited");
    // Names the cause (not just the SQL statement that failed; "Read-only Viewer" in its
    // parameters does not count).
    expect(failure.slice(failure.indexOf("--- stderr ---"))).toMatch(/read-only (file|filesystem)|cannot be written/i);
    Bun.spawnSync(["umount", dataDir]);
    expect(integrity(path.join(dataDir, "hub.db"))).toBe("ok");
    const again = await startHub({ dataDir });
    running.push(again);
    expect((await fetch(`${again.url}/healthz`)).status).toBe(200);
  }, 30_000);
});

/** A small tmpfs (this test runs as root, which ignores file modes; a full filesystem does not). */
function mountTmpfs(size: string): string {
  const dir = tempDir("certhub-rel-tmpfs-");
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  if (r.exitCode !== 0) throw new Error(`cannot mount a tmpfs (needs root): ${r.stderr.toString()}`);
  mounts.push(dir);
  return dir;
}

/** The directory mounted read-only onto itself (root ignores chmod; a read-only mount it cannot). */
function bindReadOnly(dir: string) {
  for (const args of [["--bind", dir, dir], ["-o", "remount,ro,bind", dir]]) {
    const r = Bun.spawnSync(["mount", ...args]);
    if (r.exitCode !== 0) throw new Error(`mount ${args.join(" ")} failed (needs root): ${r.stderr.toString()}`);
  }
  mounts.push(dir);
}

/** Writes files until the filesystem is full; returns their folder (remove it to free the space). */
function fillDisk(dir: string): string {
  const folder = path.join(dir, "filler");
  mkdirSync(folder);
  const file = path.join(folder, "big");
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(256 * 1024, 7);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
  // Fill the last partial block too.
  try {
    const fd2 = openSync(path.join(folder, "tail"), "w");
    try {
      for (;;) writeSync(fd2, Buffer.alloc(512, 7));
    } catch {}
    closeSync(fd2);
  } catch {}
  return folder;
}
