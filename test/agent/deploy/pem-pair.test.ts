// The PEM task keeps the certificate and its key together for readers: another process polling
// fullchain.pem and privkey.pem during 100 renewals (the deploy module driven directly with
// different certificates) never sees a half-written file or a key that does not belong to the
// certificate. The reader reads fullchain, key, fullchain again and only judges reads where the
// certificate did not change meanwhile (a swap between its two opens is not a pair on disk).
// A control run with the old scheme (each file replaced atomically on its own, key first) shows
// this reader does catch a mismatched pair. Also: the layout (names → .certhub-pem/current),
// migration from regular files, pruning, leftovers of a kill -9, links elsewhere refused.
import { describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDeployments, writeFileAtomic } from "../../../src/agent/deploy";
import type { DeployableCertificate } from "../../../src/agent/deploy";
import { tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";

const RENEWALS = 100;

/** Starts a reader process polling `dir` until `stop` exists; resolves with its counts. */
function startReader(dir: string, pairs: Map<string, string>) {
  const work = tempDir("certhub-pem-reader-");
  const stop = join(work, "stop");
  writeFileSync(join(work, "pairs.json"), JSON.stringify(Object.fromEntries(pairs)));
  writeFileSync(
    join(work, "reader.ts"),
    `import { existsSync, readFileSync } from "node:fs";
const pairs = JSON.parse(readFileSync(${JSON.stringify(join(work, "pairs.json"))}, "utf8"));
const read = (f) => { try { return readFileSync(${JSON.stringify(dir)} + "/" + f, "utf8"); } catch (e) { return "ERROR " + e.code; } };
const n = { reads: 0, judged: 0, straddled: 0, unknown: 0, mismatched: 0, errors: 0, versions: new Set() };
while (!existsSync(${JSON.stringify(stop)})) {
  const a = read("fullchain.pem"), key = read("privkey.pem"), b = read("fullchain.pem");
  n.reads++;
  if (a.startsWith("ERROR") || key.startsWith("ERROR")) { n.errors++; continue; }
  if (a !== b) { n.straddled++; continue; }
  n.judged++;
  if (!(a in pairs)) n.unknown++;
  else if (pairs[a] !== key) n.mismatched++;
  else n.versions.add(a);
}
console.log(JSON.stringify({ ...n, versions: n.versions.size }));`,
  );
  const proc = Bun.spawn([process.execPath, join(work, "reader.ts")], { stdout: "pipe", stderr: "inherit" });
  return {
    async finish() {
      writeFileSync(stop, "");
      const out = await new Response(proc.stdout).text();
      await proc.exited;
      return JSON.parse(out) as { reads: number; judged: number; straddled: number; unknown: number; mismatched: number; errors: number; versions: number };
    },
  };
}

describe("pem task: the certificate/key pair changes together", () => {
  const ca = makeCa();
  // 20 different certificates (own keys), deployed in turn: every renewal changes both files.
  const certs: DeployableCertificate[] = Array.from({ length: 20 }, (_, i) => issue(ca, { serialHex: (0x5e000 + i).toString(16), domains: ["pair.example.test"] }));
  const pairs = new Map(certs.map((c) => [c.fullchainPem, c.keyPem]));

  test(`a reader polling during ${RENEWALS} renewals never sees a half-written file or a mismatched pair`, async () => {
    const dir = tempDir("certhub-pem-pair-");
    const ctx = context();
    await runDeployments([{ type: "pem", directory: dir, trigger: "success" }], certs[0], "success", ctx);
    const reader = startReader(dir, pairs);
    await Bun.sleep(150); // the reader is polling
    const t0 = performance.now();
    for (let i = 1; i <= RENEWALS; i++) {
      const [r] = await runDeployments([{ type: "pem", directory: dir, trigger: "success" }], certs[i % certs.length], "success", ctx);
      expect(r.lastResult.outcome).toBe("succeeded");
    }
    const ms = performance.now() - t0;
    const n = await reader.finish();
    console.log(`pem pair: ${RENEWALS} renewals in ${ms.toFixed(0)} ms; reader: ${JSON.stringify(n)}`);
    expect(n.errors).toBe(0); // no name is ever missing
    expect(n.unknown).toBe(0); // never a half-written file
    expect(n.mismatched).toBe(0);
    expect(n.judged).toBeGreaterThan(RENEWALS); // it really read throughout
    expect(n.versions).toBeGreaterThan(5); // and saw many renewals
  }, 60_000);

  test("control: files replaced one by one (each atomic, key first) — the same reader catches a mismatched pair", async () => {
    const dir = tempDir("certhub-pem-pair-naive-");
    const writeNaive = async (c: DeployableCertificate) => {
      await writeFileAtomic(join(dir, "privkey.pem"), c.keyPem, { mode: 0o600 });
      await writeFileAtomic(join(dir, "chain.pem"), c.chainPem);
      await writeFileAtomic(join(dir, "cert.pem"), c.certPem);
      await writeFileAtomic(join(dir, "fullchain.pem"), c.fullchainPem);
    };
    await writeNaive(certs[0]);
    const reader = startReader(dir, pairs);
    await Bun.sleep(150);
    for (let i = 1; i <= RENEWALS; i++) await writeNaive(certs[i % certs.length]);
    const n = await reader.finish();
    console.log(`naive scheme: reader ${JSON.stringify(n)}`);
    expect(n.mismatched).toBeGreaterThan(0);
  }, 60_000);
});

describe("pem task: directory layout", () => {
  const ca = makeCa();
  const a = issue(ca, { serialHex: "7a01", domains: ["layout.example.test"] });
  const b = issue(ca, { serialHex: "7a02", domains: ["layout.example.test"] });
  const c = issue(ca, { serialHex: "7a03", domains: ["layout.example.test"] });
  const pem = (dir: string) => [{ type: "pem" as const, directory: dir, trigger: "success" as const }];

  test("regular files from an older agent become links; current and previous versions kept, older and leftovers removed", async () => {
    const dir = tempDir("certhub-pem-layout-");
    for (const f of ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]) writeFileSync(join(dir, f), "old regular file\n");
    for (const cert of [a, b, c]) {
      const [r] = await runDeployments(pem(dir), cert, "success", context());
      expect(r.lastResult.outcome).toBe("succeeded");
    }
    for (const f of ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]) {
      expect(lstatSync(join(dir, f)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, f))).toBe(`.certhub-pem/current/${f}`);
    }
    expect(readFileSync(join(dir, "fullchain.pem"), "utf8")).toBe(c.fullchainPem);
    expect(readFileSync(join(dir, "privkey.pem"), "utf8")).toBe(c.keyPem);
    const versions = readdirSync(join(dir, ".certhub-pem")).sort();
    expect(versions.map((v) => v.slice(0, 4))).toEqual(["7a02", "7a03", "curr"]); // 7a01 pruned
    expect(readlinkSync(join(dir, ".certhub-pem", "current"))).toStartWith("7a03-");
    // what a kill -9 can leave: a half-written version and a temp link — the next run removes both
    mkdirSync(join(dir, ".certhub-pem", "7a09-deadbeef"));
    symlinkSync("x", join(dir, ".cert.pem.certhub-0123456789ab.link"));
    await runDeployments(pem(dir), a, "success", context());
    expect(readdirSync(dir).sort()).toEqual([".certhub-pem", "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
    expect(readdirSync(join(dir, ".certhub-pem")).map((v) => v.slice(0, 4)).sort()).toEqual(["7a01", "7a03", "curr"]);
  });

  test("a name that links elsewhere is refused and nothing changes", async () => {
    const dir = tempDir("certhub-pem-layout-");
    const elsewhere = join(tempDir("certhub-pem-elsewhere-"), "key.pem");
    writeFileSync(elsewhere, "not ours\n");
    symlinkSync(elsewhere, join(dir, "privkey.pem"));
    const [r] = await runDeployments(pem(dir), a, "success", context());
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toBe(`${join(dir, "privkey.pem")}: is a symbolic link to elsewhere; refusing to replace it (point the task at the real directory)`);
    expect(readdirSync(dir)).toEqual(["privkey.pem"]);
    expect(readFileSync(elsewhere, "utf8")).toBe("not ours\n");
  });
});
