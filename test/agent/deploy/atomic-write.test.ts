// Atomic replacement as a user notices it: another process reading the file while it is being
// rewritten only ever sees complete versions; the PEM files get the documented modes and the
// owner/group asked for; symlinks, missing directories and bad owners fail with clear messages
// and leave no temp files.
import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDeployments, writeFileAtomic } from "../../../src/agent/deploy";
import { ROOT, tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";
import { runAsNobody } from "../../helpers/as-nobody";

const isRoot = process.getuid?.() === 0;
const SIZE = 512 * 1024;
const version = (i: number) => `BEGIN ${i}\n${String(i % 10).repeat(SIZE)}\nEND ${i}\n`;

// A separate process reading the file in a tight loop; counts complete and broken reads until
// the stop file appears, then prints {reads, broken, examples} as JSON.
const READER = `
const { readFileSync, existsSync } = require("node:fs");
const [file, stop] = process.argv.slice(2);
let reads = 0, broken = 0; const examples = [];
while (!existsSync(stop)) {
  let s;
  try { s = readFileSync(file, "latin1"); } catch (e) { broken++; examples.push(String(e.code)); continue; }
  reads++;
  const m = /^BEGIN (\\d+)\\n/.exec(s);
  const ok = m && s.length === ${SIZE} + m[1].length * 2 + 13 && s.endsWith("\\nEND " + m[1] + "\\n");
  if (!ok) { broken++; if (examples.length < 5) examples.push("len=" + s.length + " head=" + s.slice(0, 12).replace(/\\n/g, "|")); }
}
console.log(JSON.stringify({ reads, broken, examples }));
`;

async function withReader(file: string, rewrite: (i: number) => Promise<void> | void, rounds: number) {
  const dir = tempDir("certhub-reader-");
  const script = join(dir, "reader.cjs");
  const stop = join(dir, "stop");
  writeFileSync(script, READER);
  const proc = Bun.spawn([process.execPath, script, file, stop], { stdout: "pipe", stderr: "inherit" });
  await Bun.sleep(150); // let the reader start reading
  for (let i = 1; i <= rounds; i++) await rewrite(i);
  writeFileSync(stop, "");
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return JSON.parse(out) as { reads: number; broken: number; examples: string[] };
}

describe("writeFileAtomic", () => {
  test("a concurrent reader never sees a partial file during 200 rewrites (and does see them with a plain write)", async () => {
    const dir = tempDir("certhub-atomic-");
    const file = join(dir, "fullchain.pem");
    await writeFileAtomic(file, version(0));
    const atomic = await withReader(file, (i) => writeFileAtomic(file, version(i)), 200);
    expect(atomic.examples).toEqual([]);
    expect(atomic.broken).toBe(0);
    expect(atomic.reads).toBeGreaterThan(200);
    expect(readFileSync(file, "latin1")).toBe(version(200));
    expect(readdirSync(dir)).toEqual(["fullchain.pem"]); // no temp files left

    // Control: the same reader catches a non-atomic writer, so the check above can fail.
    const plain = await withReader(file, (i) => writeFileSync(file, version(i)), 200);
    expect(plain.broken).toBeGreaterThan(0);
  }, 60_000);

  test("kill -9 of a writer mid-write (20 times) leaves a complete old or new file; the next write removes stale temp files", async () => {
    const dir = tempDir("certhub-kill9-");
    const file = join(dir, "privkey.pem");
    const writer = join(tempDir("certhub-kill9-w-"), "writer.ts");
    writeFileSync(
      writer,
      `import { writeFileAtomic } from ${JSON.stringify(join(ROOT, "src/agent/deploy/atomic-write.ts"))};
const version = ${version.toString()};
const SIZE = ${SIZE};
for (let i = 1; ; i++) await writeFileAtomic(${JSON.stringify(file)}, version(i));`,
    );
    await writeFileAtomic(file, version(0));
    const complete = (s: string) => {
      const m = /^BEGIN (\d+)\n/.exec(s);
      return !!m && s === version(Number(m[1]));
    };
    for (let round = 0; round < 20; round++) {
      const proc = Bun.spawn([process.execPath, writer], { stdout: "ignore", stderr: "inherit" });
      await Bun.sleep(150 + Math.floor(Math.random() * 150));
      proc.kill("SIGKILL");
      await proc.exited;
      expect(complete(readFileSync(file, "latin1"))).toBe(true);
    }
    // Temp files of killed writes are removed once stale (older than any live write); a fresh one
    // (another writer right now) is left alone. One of each is planted in case no kill landed mid-write.
    writeFileSync(join(dir, ".privkey.pem.certhub-0123456789ab.tmp"), "partial");
    writeFileSync(join(dir, ".privkey.pem.certhub-ba9876543210.tmp"), "in progress");
    const old = new Date(Date.now() - 3600_000);
    for (const t of readdirSync(dir)) if (t !== "privkey.pem" && !t.includes("ba9876543210")) utimesSync(join(dir, t), old, old);
    await writeFileAtomic(file, version(1));
    expect(readdirSync(dir).sort()).toEqual([".privkey.pem.certhub-ba9876543210.tmp", "privkey.pem"]);
  }, 60_000);

  test("refuses a symlink target, a missing directory, a non-directory parent; no temp files left", async () => {
    const dir = tempDir("certhub-atomic-");
    const elsewhere = join(dir, "elsewhere.pem");
    writeFileSync(elsewhere, "original");
    symlinkSync(elsewhere, join(dir, "link.pem"));
    await expect(writeFileAtomic(join(dir, "link.pem"), "new")).rejects.toThrow(/is a symbolic link; refusing/);
    expect(readFileSync(elsewhere, "utf8")).toBe("original");
    expect(lstatSync(join(dir, "link.pem")).isSymbolicLink()).toBe(true);

    await expect(writeFileAtomic(join(dir, "missing", "cert.pem"), "x")).rejects.toThrow(/missing: directory does not exist/);
    await expect(writeFileAtomic(join(elsewhere, "cert.pem"), "x")).rejects.toThrow(/not a directory/);
    mkdirSync(join(dir, "sub.pem"));
    await expect(writeFileAtomic(join(dir, "sub.pem"), "x")).rejects.toThrow(/not a regular file/);
    await expect(writeFileAtomic(join(dir, "x.pem"), "x", { owner: "no-such-user-certhub" })).rejects.toThrow(/unknown user "no-such-user-certhub"/);
    await expect(writeFileAtomic(join(dir, "x.pem"), "x", { group: "no-such-group-certhub" })).rejects.toThrow(/unknown group/);
    expect(readdirSync(dir).sort()).toEqual(["elsewhere.pem", "link.pem", "sub.pem"]);
  });

  test("mode is exact regardless of the umask", async () => {
    const dir = tempDir("certhub-atomic-");
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, "a"), "x", { mode: 0o644 });
      await writeFileAtomic(join(dir, "b"), "x", { mode: 0o640 });
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dir, "a")).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, "b")).mode & 0o777).toBe(0o640);
  });
});

describe("pem task", () => {
  const ca = makeCa();
  const cert = issue(ca, { serialHex: "0badc0de01", domains: ["pem.example.test"] });

  test("writes cert, chain, fullchain and privkey with their contents; privkey 0600, the rest 0644", async () => {
    const dir = tempDir("certhub-pem-");
    const [r] = await runDeployments([{ type: "pem", directory: dir, trigger: "success" }], cert, "success", context());
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(readFileSync(join(dir, "cert.pem"), "utf8")).toBe(cert.certPem);
    expect(readFileSync(join(dir, "chain.pem"), "utf8")).toBe(cert.chainPem);
    expect(readFileSync(join(dir, "fullchain.pem"), "utf8")).toBe(cert.fullchainPem);
    expect(readFileSync(join(dir, "privkey.pem"), "utf8")).toBe(cert.keyPem);
    const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;
    expect(mode("privkey.pem")).toBe(0o600);
    expect(mode("cert.pem")).toBe(0o644);
    expect(mode("chain.pem")).toBe(0o644);
    expect(mode("fullchain.pem")).toBe(0o644);
    // the names are links into one version directory (pem.ts: the pair changes together)
    expect(readdirSync(dir).sort()).toEqual([".certhub-pem", "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
    for (const f of ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]) expect(readlinkSync(join(dir, f))).toBe(`.certhub-pem/current/${f}`);
  });

  test('mode "0640" applies to every file, the key included', async () => {
    const dir = tempDir("certhub-pem-");
    await runDeployments([{ type: "pem", directory: dir, mode: "0640", trigger: "success" }], cert, "success", context());
    for (const f of ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o640);
  });

  test.skipIf(!isRoot)("as root: owner nobody and group nogroup by name, and by number", async () => {
    const dir = tempDir("certhub-pem-");
    const [r] = await runDeployments([{ type: "pem", directory: dir, owner: "nobody", group: "nogroup", trigger: "success" }], cert, "success", context());
    expect(r.lastResult.outcome).toBe("succeeded");
    for (const f of ["cert.pem", "privkey.pem"]) {
      const st = statSync(join(dir, f));
      expect([st.uid, st.gid]).toEqual([65534, 65534]);
    }
    // nobody can read its key but not write the directory; root keeps ownership of the directory
    expect(statSync(join(dir, "privkey.pem")).mode & 0o777).toBe(0o600);
    const dir2 = tempDir("certhub-pem-");
    await runDeployments([{ type: "pem", directory: dir2, owner: "65534", group: "65534", trigger: "success" }], cert, "success", context());
    expect(statSync(join(dir2, "fullchain.pem")).uid).toBe(65534);
  });
  test.skipIf(!isRoot)("as an unprivileged user (nobody): permission errors fail the task with a clear message, nothing half-written", async () => {
    const rootOwned = tempDir("certhub-pem-perm-");
    const own = tempDir("certhub-pem-perm-");
    Bun.spawnSync(["chmod", "755", rootOwned]);
    Bun.spawnSync(["chown", "nobody:nogroup", own]);
    const runner = join(tempDir("certhub-pem-perm-"), "run.ts");
    writeFileSync(
      runner,
      `import { runDeployments } from ${JSON.stringify(join(ROOT, "src/agent/deploy/index.ts"))};
const cert = ${JSON.stringify(cert)};
const ctx = { credentials: new Map(), allowScripts: false, log: () => {} };
const a = await runDeployments([{ type: "pem", directory: ${JSON.stringify(rootOwned)}, trigger: "success" }], cert, "success", ctx);
const b = await runDeployments([{ type: "pem", directory: ${JSON.stringify(own)}, owner: "root", trigger: "success" }], cert, "success", ctx);
console.log(JSON.stringify([a[0].lastResult, b[0].lastResult]));`,
    );
    const r = await runAsNobody(runner);
    expect(r.stderr).toBe("");
    const [denied, chownDenied] = JSON.parse(r.stdout);
    expect(denied.outcome).toBe("failed");
    expect(denied.message).toBe(`${join(rootOwned, ".certhub-pem")}: cannot create a directory in ${rootOwned}: permission denied (EACCES)`);
    expect(chownDenied.outcome).toBe("failed");
    expect(chownDenied.message).toMatch(new RegExp(`^${join(own, ".certhub-pem")}/[0-9a-f]+-[0-9a-f]{8}/privkey\\.pem: cannot set owner/group root: permission denied \\(EPERM\\)$`));
    expect(readdirSync(rootOwned)).toEqual([]);
    expect(readdirSync(own)).toEqual([".certhub-pem"]);
    expect(readdirSync(join(own, ".certhub-pem"))).toEqual([]); // the half-made version was removed
  });
  if (!isRoot) test("owner/group test needs root", () => console.warn("NOT RUN: chown to nobody needs root"));

  test("replacing an existing deployment swaps the contents (renewal) and keeps the files' modes", async () => {
    const dir = tempDir("certhub-pem-");
    await runDeployments([{ type: "pem", directory: dir, trigger: "success" }], cert, "success", context());
    const next = issue(ca, { serialHex: "0badc0de02", domains: ["pem.example.test"] });
    const [r] = await runDeployments([{ type: "pem", directory: dir, trigger: "success" }], next, "success", context());
    expect(r.lastResult.message).toContain("serial 0badc0de02");
    expect(readFileSync(join(dir, "cert.pem"), "utf8")).toBe(next.certPem);
    expect(readFileSync(join(dir, "privkey.pem"), "utf8")).toBe(next.keyPem);
    expect(statSync(join(dir, "privkey.pem")).mode & 0o777).toBe(0o600);
  });

  test("a missing directory or a symlinked file fails the task with the path in the message", async () => {
    const base = tempDir("certhub-pem-");
    const [missing] = await runDeployments([{ type: "pem", directory: join(base, "nope"), trigger: "success" }], cert, "success", context());
    expect(missing.lastResult.outcome).toBe("failed");
    expect(missing.lastResult.message).toContain(`${join(base, "nope")}: directory does not exist`);
    writeFileSync(join(base, "real.pem"), "keep me");
    symlinkSync(join(base, "real.pem"), join(base, "cert.pem"));
    const [linked] = await runDeployments([{ type: "pem", directory: base, trigger: "success" }], cert, "success", context());
    expect(linked.lastResult.outcome).toBe("failed");
    expect(linked.lastResult.message).toContain(`${join(base, "cert.pem")}: is a symbolic link`);
    expect(readFileSync(join(base, "real.pem"), "utf8")).toBe("keep me");
    expect(existsSync(join(base, "nope"))).toBe(false);
  });
});
