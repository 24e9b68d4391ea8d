// certbot reader: one certificate per `renewal/<lineage>.conf` (ConfigObj INI), its files
// behind the `live/` symlinks into `archive/`. certbot keeps no per-certificate result, so the
// next renewal is computed with certbot's own rule and failures come from letsencrypt.log*.
import { access, readdir, readFile, stat } from "node:fs/promises";
import { constants as fsc } from "node:fs";
import path from "node:path";
import type { CertificateReport } from "../../protocol/certificates";
import {
  type ClientScan,
  DAY_MS,
  type ReaderInput,
  certState,
  clip,
  errnoCode,
  fsProblem,
  mapLimit,
  messageOf,
  openRoot,
  reportId,
} from "./common";
import { ConfigObjError, type ConfigObjSection, configObjList, parseConfigObj } from "./configobj";
import { type CertFacts, readCertFacts } from "./x509";

const CONCURRENCY = 64;
/** Newest log files read for renewal failures (certbot rotates on every run). */
const MAX_LOG_FILES = 10;
const MAX_LOG_BYTES = 64 * 1024 * 1024;

export async function readCertbot(input: ReaderInput): Promise<ClientScan> {
  const out: ClientScan = { certificates: [], problems: [], found: false };
  for (const root of input.roots) await scanRoot(root, input, out);
  return out;
}

async function scanRoot(root: string, input: ReaderInput, out: ClientScan): Promise<void> {
  if (!(await openRoot(root, out, () => stat(root), "read"))) return;
  const renewalDir = path.join(root, "renewal");
  let names: string[];
  try {
    names = (await readdir(renewalDir)).filter((n) => n.endsWith(".conf")).sort();
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return; // certbot installed, never issued
    out.rootUnreadable = true;
    out.problems.push(fsProblem(renewalDir, err, "list"));
    return;
  }
  // archive/ and live/ are 0700: say so once instead of once per certificate.
  const deniedDirs: string[] = [];
  for (const dir of ["live", "archive"].map((d) => path.join(root, d))) {
    try {
      await access(dir, fsc.R_OK | fsc.X_OK);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue;
      deniedDirs.push(dir);
      out.problems.push(fsProblem(dir, err));
    }
  }
  const failures = input.logPath ? await readRenewalFailures(input.logPath, out.problems) : new Map<string, LoggedFailure>();
  const results = await mapLimit(names, CONCURRENCY, (name) => readLineage(path.join(renewalDir, name), input.now, failures));
  for (const r of results) {
    if (r.report) out.certificates.push(r.report);
    if (r.problem && !(r.denied && deniedDirs.some((d) => r.denied!.startsWith(d + path.sep)))) out.problems.push(r.problem);
  }
}

interface LineageResult {
  report?: CertificateReport;
  problem?: string;
  /** Path that failed with a permission error (folded into the per-directory problem). */
  denied?: string;
}

const REQUIRED = ["cert", "privkey", "chain", "fullchain"] as const;

async function readLineage(confPath: string, now: number, failures: Map<string, LoggedFailure>): Promise<LineageResult> {
  const lineage = path.basename(confPath, ".conf");
  let conf: ConfigObjSection;
  try {
    conf = parseConfigObj(await readFile(confPath, "utf8"));
  } catch (err) {
    if (err instanceof ConfigObjError)
      return { problem: `cannot parse ${confPath} (${err.message}) — certbot skips this certificate too; fix the file or remove it with \`certbot delete --cert-name ${lineage}\`` };
    return { problem: fsProblem(confPath, err), denied: isDenied(err) ? confPath : undefined };
  }
  const missing = REQUIRED.filter((k) => !conf.values[k]);
  if (missing.length)
    return { problem: `${confPath} is missing ${missing.join(", ")} — certbot cannot renew it either; fix the file or remove it with \`certbot delete --cert-name ${lineage}\`` };
  const files = { cert: conf.values.cert!, key: conf.values.privkey!, chain: conf.values.chain!, fullchain: conf.values.fullchain! };
  const confDir = path.dirname(confPath);
  const abs = (p: string) => path.resolve(confDir, p);

  let facts: CertFacts;
  let certFile = abs(files.cert);
  try {
    facts = await readCertFacts(certFile);
  } catch (err) {
    // The leaf file can be missing in hand-edited setups; fullchain starts with the leaf.
    try {
      certFile = abs(files.fullchain);
      facts = await readCertFacts(certFile);
    } catch {
      const problem = isFsError(err)
        ? fsProblem(abs(files.cert), err)
        : `cannot read the certificate ${abs(files.cert)} of ${confPath}: ${messageOf(err)} — run \`certbot certificates\` to check the lineage`;
      return { problem, denied: isDenied(err) ? abs(files.cert) : undefined };
    }
  }
  // The symlink target's mtime (stat follows the live/ link into archive/) is when certbot
  // wrote this version: later than any failure logged before it (notBefore alone is
  // back-dated by some CAs).
  const issuedAt = Math.max(facts.notBefore, facts.fileMtimeMs ?? 0);

  const params = conf.sections.renewalparams?.values ?? {};
  const nextRenewalAt = nextRenewal(conf, facts);
  const failure = failures.get(lineage);
  const lastRenewalFailed = failure !== undefined && failure.at > issuedAt;
  const report: CertificateReport = {
    id: reportId("certbot", lineage, confPath),
    name: lineage,
    domains: facts.domains.slice(0, 100),
    source: "certbot",
    ...certState(facts, { nextRenewalAt, lastRenewalFailed, lastError: null }, now),
    lastError: lastRenewalFailed ? clip(failure.message, 2000) : null, // kept even when certbot logged an empty message
    paths: { cert: abs(files.cert), key: abs(files.key), chain: abs(files.chain), fullchain: abs(files.fullchain), config: confPath },
    identifier: confPath,
    settings: certbotSettings(params),
  };
  return { report };
}

function isFsError(err: unknown): boolean {
  return typeof errnoCode(err) === "string";
}
function isDenied(err: unknown): boolean {
  const c = errnoCode(err);
  return c === "EACCES" || c === "EPERM";
}

/** CA, challenge and key type as certbot will use them on the next renewal. */
function certbotSettings(params: Record<string, string>): Record<string, string> {
  const s: Record<string, string> = {};
  if (params.server) s.ca = clip(params.server, 512);
  const auth = params.authenticator;
  if (auth) {
    s.authenticator = clip(auth, 512);
    const challenge = challengeOf(auth, params.pref_challs);
    if (challenge) s.challenge = challenge;
  }
  // An absent key_type means RSA (certbot < 1.25 did not save the default).
  const keyType = params.key_type ?? "rsa";
  s.keyType = keyType === "ecdsa" ? `ecdsa-${params.elliptic_curve ?? "secp256r1"}` : `rsa-${params.rsa_key_size ?? "2048"}`;
  if (params.autorenew) s.autorenew = params.autorenew;
  if (params.preferred_chain) s.preferredChain = clip(params.preferred_chain, 512);
  return s;
}

function challengeOf(authenticator: string, prefChalls: string | undefined): string | null {
  if (["webroot", "standalone", "nginx", "apache"].includes(authenticator)) return "http-01";
  if (/^dns[-_]/.test(authenticator)) return "dns-01";
  if (authenticator === "manual") return configObjList(prefChalls)[0] ?? "http-01";
  return null;
}

/**
 * certbot's should_autorenew: renew_before_expiry when set; otherwise certbot ≥ 4.0 renews
 * with 1/3 of the lifetime left (1/2 under 10 days), older versions 30 days before expiry.
 */
export function nextRenewal(conf: ConfigObjSection, facts: { notBefore: number; notAfter: number }): number | null {
  if ((conf.sections.renewalparams?.values.autorenew ?? "").toLowerCase() === "false") return null;
  const before = conf.values.renew_before_expiry;
  if (before) {
    const ms = parseInterval(before);
    if (ms !== null) return facts.notAfter - ms;
  }
  const major = Number.parseInt(conf.values.version ?? "", 10);
  if (Number.isFinite(major) && major < 4) return facts.notAfter - 30 * DAY_MS;
  const lifetime = facts.notAfter - facts.notBefore;
  return lifetime < 10 * DAY_MS ? facts.notBefore + lifetime / 2 : facts.notBefore + (lifetime * 2) / 3;
}

const UNIT_MS: Array<[RegExp, number]> = [
  [/^s(ec(ond)?s?)?$/, 1000],
  [/^m(in(ute)?s?)?$/, 60_000],
  [/^h(our)?s?$/, 3_600_000],
  [/^d(ay)?s?$/, DAY_MS],
  [/^w(eek)?s?$/, 7 * DAY_MS],
  [/^mo(nth)?s?$/, 30 * DAY_MS],
  [/^y(ear)?s?$/, 365 * DAY_MS],
];

/** "30 days", "3 weeks 2 days", "12" (days) as milliseconds; null when unparseable. */
export function parseInterval(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t) * DAY_MS;
  let total = 0;
  let matched = false;
  for (const m of t.matchAll(/(\d+)\s*([a-z]+)/g)) {
    const unit = UNIT_MS.find(([re]) => re.test(m[2]!));
    if (!unit) return null;
    total += Number(m[1]) * unit[1];
    matched = true;
  }
  return matched ? total : null;
}

// ---- letsencrypt.log* ------------------------------------------------------------------------

interface LoggedFailure {
  at: number;
  message: string;
}

const LOG_LINE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}):([A-Z]+):[^:]*:(.*)$/;
const FAILED = /^Failed to renew certificate (.+?) with error: ([\s\S]*)$/;
const BROKEN = /^Renewal configuration file .+? \(cert: (.+?)\) produced an unexpected error: ([\s\S]*?)\.? Skipping\.$/;

/** Latest logged renewal failure per lineage, from the newest rotated letsencrypt.log files. */
async function readRenewalFailures(logPath: string, problems: string[]): Promise<Map<string, LoggedFailure>> {
  const failures = new Map<string, LoggedFailure>();
  let files: string[];
  try {
    const s = await stat(logPath);
    files = s.isDirectory()
      ? (await readdir(logPath))
          .filter((n) => /^letsencrypt\.log(\.\d+)?$/.test(n))
          .sort((a, b) => logIndex(a) - logIndex(b))
          .slice(0, MAX_LOG_FILES)
          .map((n) => path.join(logPath, n))
      : [logPath];
  } catch (err) {
    if (errnoCode(err) !== "ENOENT")
      problems.push(`${fsProblem(logPath, err)} (needed to report failed renewals; certificates are still listed)`);
    return failures;
  }
  let budget = MAX_LOG_BYTES;
  for (const file of files) {
    let text: string;
    try {
      const buf = await readFile(file);
      if (buf.length > budget) break;
      budget -= buf.length;
      text = buf.toString("utf8");
    } catch (err) {
      problems.push(`${fsProblem(file, err)} (needed to report failed renewals)`);
      continue;
    }
    collectFailures(text, failures);
  }
  return failures;
}

function logIndex(name: string): number {
  const m = /\.(\d+)$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** Log times are the host's local time without a zone. */
export function collectFailures(text: string, into: Map<string, LoggedFailure>): void {
  let current: { at: number; message: string } | null = null;
  const flush = () => {
    if (!current) return;
    const m = FAILED.exec(current.message) ?? BROKEN.exec(current.message);
    if (m) {
      const lineage = m[1]!;
      const prev = into.get(lineage);
      if (!prev || prev.at < current.at) into.set(lineage, { at: current.at, message: m[2]!.trim() });
    }
    current = null;
  };
  for (const line of text.split("\n")) {
    const m = LOG_LINE.exec(line);
    if (m) {
      flush();
      if (m[8] !== "ERROR") continue;
      const at = new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!).getTime();
      current = { at, message: m[9]! };
    } else if (current && current.message.length < 2000) {
      current.message += `\n${line}`;
    }
  }
  flush();
}
