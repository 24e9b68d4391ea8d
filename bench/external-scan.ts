#!/usr/bin/env bun
// External-client scan benchmark: a certbot tree with 10,000 lineages (renewal conf, live/
// symlinks into archive/, real openssl certificates) scanned by the agent's reader, reported
// in ms and as a ratio of a baseline that reads the same number of small files. Target: the
// whole scan under 2 s on this machine.
//
//   bun bench/external-scan.ts [--lineages 10000] [--runs 5]
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { scanExternalManagers } from "../src/agent/external";
import { mapLimit } from "../src/agent/external/common";
import { clearCertFactsCache } from "../src/agent/external/x509";
import { EXTERNAL_MANAGERS } from "../src/protocol/certificates";
import type { ExternalManagersSetting } from "../src/protocol/settings";

const TARGET_MS = 2000;
/** Distinct certificates generated with openssl; lineages take turns using them. */
const DISTINCT_CERTS = 16;

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr.toString()}`);
}

/** A certbot config dir with `lineages` lineages, as certbot lays it out. */
export function buildCertbotTree(root: string, lineages: number): void {
  const work = join(root, "gen");
  mkdirSync(work, { recursive: true });
  const certs: Array<{ cert: string; key: string }> = [];
  for (let i = 0; i < DISTINCT_CERTS; i++) {
    const ec = i % 2 === 0;
    const sans = [`site${i}.example.test`, `www.site${i}.example.test`, `api.site${i}.example.test`].map((d) => `DNS:${d}`).join(",");
    const keyArgs = ec ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"];
    openssl(["req", "-x509", ...keyArgs, "-nodes", "-keyout", `k${i}.pem`, "-out", `c${i}.pem`, "-days", "90", "-subj", `/CN=site${i}.example.test`, "-addext", `subjectAltName=${sans}`], work);
    certs.push({ cert: readFileSync(join(work, `c${i}.pem`), "utf8"), key: readFileSync(join(work, `k${i}.pem`), "utf8") });
  }
  const config = join(root, "etc");
  for (const d of ["renewal", "live", "archive"]) mkdirSync(join(config, d), { recursive: true });
  for (let i = 0; i < lineages; i++) {
    const name = `host${i}.example.test`;
    const { cert, key } = certs[i % certs.length]!;
    const archive = join(config, "archive", name);
    const live = join(config, "live", name);
    mkdirSync(archive);
    mkdirSync(live);
    writeFileSync(join(archive, "cert1.pem"), cert);
    writeFileSync(join(archive, "chain1.pem"), cert);
    writeFileSync(join(archive, "fullchain1.pem"), cert + cert);
    writeFileSync(join(archive, "privkey1.pem"), key, { mode: 0o600 });
    for (const kind of ["cert", "chain", "fullchain", "privkey"]) symlinkSync(`../../archive/${name}/${kind}1.pem`, join(live, `${kind}.pem`));
    writeFileSync(
      join(config, "renewal", `${name}.conf`),
      [
        "# renew_before_expiry = 30 days",
        "version = 2.1.0",
        `archive_dir = ${archive}`,
        `cert = ${live}/cert.pem`,
        `privkey = ${live}/privkey.pem`,
        `chain = ${live}/chain.pem`,
        `fullchain = ${live}/fullchain.pem`,
        "",
        "# Options used in the renewal process",
        "[renewalparams]",
        "account = 5a1f0c3e9b7d42e8a6c4f2b0d8e6a4c2",
        "authenticator = webroot",
        "webroot_path = /var/www/html,",
        "server = https://acme-v02.api.letsencrypt.org/directory",
        `key_type = ${i % 2 === 0 ? "ecdsa" : "rsa"}`,
        "[[webroot_map]]",
        `${name} = /var/www/html`,
        "",
      ].join("\n"),
    );
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface ExternalScanBench {
  /** First scan of the tree: every certificate parsed. */
  coldMs: number;
  /** Rescan of the unchanged tree (the periodic refresh): certificates come from the facts cache. */
  warmMs: number;
  baselineMs: number;
  certificates: number;
}

export async function benchExternalScan(lineages = 10_000, runs = 5): Promise<ExternalScanBench> {
  const root = mkdtempSync(join(tmpdir(), "certhub-bench-ext-"));
  try {
    const t0 = performance.now();
    buildCertbotTree(root, lineages);
    console.log(`built a certbot tree with ${lineages} lineages in ${Math.round(performance.now() - t0)} ms`);
    const config = join(root, "etc");
    const setting: ExternalManagersSetting = {};
    for (const n of EXTERNAL_MANAGERS) setting[n] = { enabled: false };
    setting.certbot = { enabled: true, configPath: config };
    const env = { home: root, isRoot: false, platform: process.platform, env: {} };
    const confs = Array.from({ length: lineages }, (_, i) => join(config, "renewal", `host${i}.example.test.conf`));

    const baseline = async () => {
      const t = performance.now();
      await mapLimit(confs, 64, (f) => readFile(f));
      return performance.now() - t;
    };
    let certificates = 0;
    const scan = async (cold: boolean) => {
      if (cold) clearCertFactsCache();
      const t = performance.now();
      const r = await scanExternalManagers(setting, env);
      certificates = r.certificates.length;
      const m = r.managers.find((x) => x.name === "certbot")!;
      if (m.problems.length) throw new Error(`unexpected problems: ${m.problems.slice(0, 3).join("; ")}`);
      return performance.now() - t;
    };
    await baseline(); // warm the page cache and the JIT for all three
    await scan(true);
    const baselines: number[] = [];
    const colds: number[] = [];
    const warms: number[] = [];
    for (let i = 0; i < runs; i++) {
      baselines.push(await baseline());
      colds.push(await scan(true));
      warms.push(await scan(false));
    }
    return { coldMs: median(colds), warmMs: median(warms), baselineMs: median(baselines), certificates };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const lineages = arg("lineages", 10_000);
  const r = await benchExternalScan(lineages, arg("runs", 5));
  if (r.certificates !== lineages) throw new Error(`scan reported ${r.certificates} of ${lineages} certificates`);
  const row = (label: string, ms: number) => console.log(`${label.padEnd(46)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / r.baselineMs).toFixed(1).padStart(5)} × baseline`);
  row(`baseline: read ${lineages} small files`, r.baselineMs);
  row(`external-scan cold: certbot, ${lineages} lineages`, r.coldMs);
  row(`external-scan warm (periodic rescan, unchanged)`, r.warmMs);
  console.log(`target < ${TARGET_MS} ms (cold scan): ${r.coldMs < TARGET_MS ? "met" : "MISSED"}  (medians of the runs; load average ${(await import("node:os")).loadavg()[0]!.toFixed(1)})`);
  if (r.coldMs >= TARGET_MS) process.exitCode = 1;
}
