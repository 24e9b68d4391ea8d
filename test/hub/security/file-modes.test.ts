// Security review #6: the hub's files must not be readable by other local users.
// Data dir 0700; hub.db, -wal, -shm, the TLS key and any *.key file 0600 — on a fresh start
// and when they already existed with wider modes (fixed with a warning). Real file modes, and
// (as root) a real other user: `nobody` must not be able to read hub.db.
import { afterAll, expect, spyOn, test } from "bun:test";
import { sql } from "drizzle-orm";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { resolveHubConfig } from "../../../src/hub/config";
import { createHub, type RunningHub } from "../../../src/hub/server";
import { ADMIN_PASSWORD, tempDir } from "../../helpers";

const mode = (file: string) => `0${(statSync(file).mode & 0o777).toString(8)}`;
const running: RunningHub[] = [];
afterAll(async () => {
  for (const h of running) await h.stop();
});

/** A directory other users can traverse (tempDir() itself is 0700, which would hide everything). */
function openParent(): string {
  const parent = tempDir("certhub-modes-");
  chmodSync(parent, 0o755);
  return parent;
}

async function start(dataDir: string, opts: { tls?: boolean } = {}): Promise<RunningHub> {
  process.env.CERTHUB_ADMIN_PASSWORD = ADMIN_PASSWORD;
  try {
    const config = resolveHubConfig({ "data-dir": dataDir, listen: "127.0.0.1:0", ...(opts.tls ? {} : { http: true }) });
    const hub = await createHub(config);
    running.push(hub);
    return hub;
  } finally {
    delete process.env.CERTHUB_ADMIN_PASSWORD;
  }
}

/** Writes through the hub so the WAL and SHM files exist. */
async function write(hub: RunningHub) {
  await hub.deps.db.run(sql`insert into hub_meta (key, value) values ('modes-test', ${String(Date.now())}) on conflict (key) do update set value = excluded.value`);
}

test("a fresh data dir is 0700 and hub.db, -wal and -shm are 0600 whatever the umask", async () => {
  const dataDir = path.join(openParent(), "data");
  const previous = process.umask(0o022);
  try {
    const hub = await start(dataDir);
    await write(hub);
    expect(mode(dataDir)).toBe("0700");
    for (const f of ["hub.db", "hub.db-wal", "hub.db-shm"]) {
      expect(existsSync(path.join(dataDir, f)), f).toBe(true);
      expect(mode(path.join(dataDir, f)), f).toBe("0600");
    }
    await hub.stop();
    running.pop();
  } finally {
    process.umask(previous);
  }
});

test("a pre-existing 0755 data dir with 0644 database, WAL, SHM and key files is narrowed, with warnings", async () => {
  const dataDir = path.join(openParent(), "data");
  // A first run leaves the files; then they are widened as an older version or a copy would.
  const first = await start(dataDir, { tls: true });
  await write(first);
  await first.stop();
  running.pop();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path.join(dataDir, "encryption.key"), "k".repeat(44));
  const widened = ["hub.db", "hub.db-wal", "hub.db-shm", "hub-tls.key", "encryption.key"].filter((f) => existsSync(path.join(dataDir, f)));
  expect(widened).toContain("hub.db");
  expect(widened).toContain("hub-tls.key");
  chmodSync(dataDir, 0o755);
  for (const f of widened) chmodSync(path.join(dataDir, f), 0o644);

  const warn = spyOn(console, "warn");
  try {
    const hub = await start(dataDir, { tls: true });
    await write(hub);
    const warnings = warn.mock.calls.map((c) => c.join(" "));
    expect(mode(dataDir)).toBe("0700");
    expect(warnings.some((w) => w.includes(dataDir) && w.includes("0755"))).toBe(true);
    for (const f of ["hub.db", "hub.db-wal", "hub.db-shm", "hub-tls.key", "encryption.key"]) {
      const file = path.join(dataDir, f);
      if (!existsSync(file)) continue;
      expect(mode(file), f).toBe("0600");
    }
    for (const f of widened) expect(warnings.some((w) => w.includes(path.join(dataDir, f)) && w.includes("0644")), `warning for ${f}`).toBe(true);
    // The certificate is public: it stays readable.
    expect(mode(path.join(dataDir, "hub-tls.crt"))).toBe("0644");
  } finally {
    warn.mockRestore();
  }
});

const isRoot = process.getuid?.() === 0;
test.skipIf(!isRoot)("as root: user nobody cannot read hub.db of a hub started in a pre-existing 0755 dir", async () => {
  const dataDir = path.join(openParent(), "data");
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  const previous = process.umask(0o022);
  try {
    const hub = await start(dataDir);
    await write(hub);
  } finally {
    process.umask(previous);
  }
  for (const f of ["hub.db", "hub.db-wal"]) {
    const proc = Bun.spawnSync(["su", "nobody", "-s", "/bin/sh", "-c", `cat '${path.join(dataDir, f)}' > /dev/null`], { stderr: "pipe" });
    expect(proc.exitCode, `nobody read ${f}`).not.toBe(0);
    expect(proc.stderr.toString()).toContain("Permission denied");
  }
  // The check itself works: nobody can read a world-readable file next to it.
  const probe = path.join(path.dirname(dataDir), "public.txt");
  writeFileSync(probe, "x", { mode: 0o644 });
  chmodSync(probe, 0o644);
  expect(Bun.spawnSync(["su", "nobody", "-s", "/bin/sh", "-c", `cat '${probe}' > /dev/null`]).exitCode).toBe(0);
});
if (!isRoot) test("the other-user read check needs root", () => console.warn("file-modes: not root, the `su nobody` check was skipped"));
