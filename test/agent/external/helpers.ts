// Helpers for the external-client tests: an isolated scan environment, a real openssl CA that
// issues certificates with chosen dates/keys/SANs into fixture trees, and running the scan
// as another user (`nobody`) to see what an agent without root privileges reports.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ScanEnvironment } from "../../../src/agent/external";
import type { CertificateReport, ExternalManagerName, ExternalManagerReport } from "../../../src/protocol/certificates";
import { EXTERNAL_MANAGERS } from "../../../src/protocol/certificates";
import type { ExternalManagersSetting } from "../../../src/protocol/settings";
import { tempDir } from "../../helpers";
import { runAsNobody } from "../../helpers/as-nobody";

export const FIXTURES = resolve(import.meta.dir, "fixtures");

/** A scan environment whose defaults point into an empty home (nothing of the host leaks in). */
export function isolatedEnv(home = tempDir("ext-home-")): ScanEnvironment {
  return { home, isRoot: false, platform: "linux", env: {} };
}

/** A setting that scans only `name` (at `configPath`), every other client disabled. */
export function only(name: ExternalManagerName, configPath: string, logPath?: string): ExternalManagersSetting {
  const s: ExternalManagersSetting = {};
  for (const n of EXTERNAL_MANAGERS) s[n] = { enabled: false };
  s[name] = { enabled: true, configPath, ...(logPath ? { logPath } : {}) };
  return s;
}

export function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}

/** Serial (lowercase hex), notAfter (epoch ms) and SANs as openssl itself reads them. */
export function opensslFacts(certFile: string): { serial: string; notAfter: number; notBefore: number } {
  const out = run(["openssl", "x509", "-in", certFile, "-noout", "-serial", "-enddate", "-startdate"]);
  const serial = /serial=([0-9A-F]+)/i.exec(out)![1]!.toLowerCase();
  const notAfter = Date.parse(/notAfter=(.+)/.exec(out)![1]!);
  const notBefore = Date.parse(/notBefore=(.+)/.exec(out)![1]!);
  return { serial, notAfter, notBefore };
}

export interface IssueOptions {
  cn: string;
  sans?: string[];
  key?: "rsa" | "ec";
  /** openssl ca dates (YYYYMMDDHHMMSSZ); default: now - 1 day … now + 60 days. */
  startDate?: Date;
  endDate?: Date;
}

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";

/** A throwaway CA (openssl ca) that signs leaf certificates with exactly the dates asked for. */
export class TestCa {
  readonly dir = tempDir("ext-ca-");
  constructor(readonly name = "certhub fixture CA") {
    for (const d of ["newcerts"]) mkdirSync(join(this.dir, d));
    writeFileSync(join(this.dir, "index.txt"), "");
    writeFileSync(join(this.dir, "serial"), `${crypto.getRandomValues(new Uint8Array(8)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "10")}\n`);
    writeFileSync(
      join(this.dir, "ca.cnf"),
      [
        "[ca]", "default_ca = test",
        "[test]", `dir = ${this.dir}`, "database = $dir/index.txt", "new_certs_dir = $dir/newcerts", "serial = $dir/serial",
        "certificate = $dir/ca.pem", "private_key = $dir/ca.key", "default_md = sha256", "policy = any", "unique_subject = no",
        "copy_extensions = copy", "email_in_dn = no",
        "[any]", "commonName = supplied",
      ].join("\n") + "\n",
    );
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", `/CN=${name}`], { cwd: this.dir });
  }

  /** Writes `<certFile>` (PEM leaf) and `<keyFile>`; returns the leaf PEM. */
  issue(certFile: string, keyFile: string, o: IssueOptions): string {
    mkdirSync(dirname(certFile), { recursive: true });
    mkdirSync(dirname(keyFile), { recursive: true });
    const keyArgs = o.key === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    const csr = join(this.dir, `req-${crypto.randomUUID()}.csr`);
    const sans = o.sans ?? [o.cn];
    run(["openssl", "req", ...keyArgs, "-nodes", "-keyout", keyFile, "-out", csr, "-subj", `/CN=${o.cn}`, "-addext", `subjectAltName=${sans.map((s) => (/^[\d.]+$/.test(s) ? `IP:${s}` : `DNS:${s}`)).join(",")}`]);
    const start = o.startDate ?? new Date(Date.now() - 86_400_000);
    const end = o.endDate ?? new Date(Date.now() + 60 * 86_400_000);
    run(["openssl", "ca", "-batch", "-config", join(this.dir, "ca.cnf"), "-in", csr, "-out", certFile, "-notext", "-startdate", stamp(start), "-enddate", stamp(end)]);
    return readFileSync(certFile, "utf8");
  }

  get pem(): string {
    return readFileSync(join(this.dir, "ca.pem"), "utf8");
  }
}

export interface ScanResult {
  certificates: CertificateReport[];
  managers: ExternalManagerReport[];
}

/** The scan run by `nobody` (setpriv) in its own process; every directory up to `root` must be traversable. */
export async function scanAsNobody(setting: ExternalManagersSetting, env: ScanEnvironment): Promise<ScanResult> {
  const r = await runAsNobody(join(import.meta.dir, "scan-as.ts"), [JSON.stringify(setting), JSON.stringify(env)]);
  if (r.code !== 0) throw new Error(`scan as nobody failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScanResult;
}

/** Makes a temp dir and its parents traversable by other users (mkdtemp creates 0700). */
export function openUp(...dirs: string[]): void {
  for (const d of dirs) chmodSync(d, 0o755);
}

export function manager(result: ScanResult, name: ExternalManagerName): ExternalManagerReport {
  return result.managers.find((m) => m.name === name)!;
}

/** A copy of fixtures/<name> in a fresh temp dir (the fixtures themselves stay untouched). */
export function copyFixture(name: string): string {
  const dest = tempDir(`ext-${name.replace(/[^a-z0-9]/gi, "")}-`);
  run(["cp", "-a", `${join(FIXTURES, name)}/.`, dest]);
  return dest;
}

/** Replaces @KEY@ placeholders (dates that must be relative to now) in a fixture file. */
export function fill(file: string, values: Record<string, string | number>): void {
  const bytes = readFileSync(file);
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe; // Windows PowerShell's Out-File
  let text = utf16 ? bytes.subarray(2).toString("utf16le") : bytes.toString("utf8");
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`@${k}@`, String(v));
  writeFileSync(file, utf16 ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]) : text);
}

/** Every directory under (and including) root made traversable by other users. */
export function openTree(root: string): void {
  run(["find", root, "-type", "d", "-exec", "chmod", "755", "{}", "+"]);
  run(["find", root, "-type", "f", "-exec", "chmod", "644", "{}", "+"]);
  // and the temp dirs above it (mkdtemp makes them 0700), up to the system temp dir
  for (let dir = dirname(root); dir.startsWith(`${tmpdir()}/`); dir = dirname(dir)) chmodSync(dir, 0o755);
}
