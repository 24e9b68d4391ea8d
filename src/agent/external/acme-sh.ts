// acme.sh reader: per-domain folders (`<domain>/`, `<domain>_ecc/` for ECDSA) under the home
// (or CERT_HOME), each with `<domain>.conf` of `Le_*` shell assignments. The conf holds
// credentials and acme.sh reads it with eval: here it is parsed as text, never sourced, and
// only the keys named below are looked at. Failures are only known when LOG_FILE is set.
import { readdir, readFile, stat } from "node:fs/promises";
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
  uniqueDomains,
} from "./common";
import { type CertFacts, readCertFacts } from "./x509";

const ECC_SUFFIX = "_ecc";
const MAX_LOG_BYTES = 16 * 1024 * 1024;

export interface ShellConf {
  values: Record<string, string>;
  /** 1-based numbers of lines that are not assignments (acme.sh would choke or run them). */
  badLines: number[];
}

const B64 = /^__ACME_BASE64__START_([\s\S]*)__ACME_BASE64__END_$/;

/**
 * Parses `K=v`, `K='v'` and `K="v"` lines — all three styles occur in one file, since acme.sh
 * only rewrites the keys it saves again — and unwraps `__ACME_BASE64__START_…` values.
 */
export function parseShellConf(text: string): ShellConf {
  const values: Record<string, string> = {};
  const badLines: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      badLines.push(i + 1);
      continue;
    }
    values[m[1]!] = decodeB64(unquoteShell(m[2]!));
  }
  return { values, badLines };
}

function unquoteShell(raw: string): string {
  if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) return raw.slice(1, -1);
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) return raw.slice(1, -1).replace(/\\([\\"$`])/g, "$1");
  return raw; // bare, or a quote acme.sh broke (a value containing '): keep the raw text
}

function decodeB64(value: string): string {
  const m = B64.exec(value);
  return m ? Buffer.from(m[1]!, "base64").toString("utf8") : value;
}

export async function readAcmeSh(input: ReaderInput): Promise<ClientScan> {
  const out: ClientScan = { certificates: [], problems: [], found: false };
  for (const root of input.roots) await scanHome(root, input.now, out);
  return out;
}

async function scanHome(home: string, now: number, out: ClientScan): Promise<void> {
  const listed = await openRoot(home, out, () => readdir(home));
  if (!listed) return;
  let entries = listed.value;
  // account.conf: only CERT_HOME and LOG_FILE are taken from it (it also holds API credentials).
  let certHome = home;
  let logFile: string | undefined;
  try {
    const account = parseShellConf(await readFile(path.join(home, "account.conf"), "utf8")).values;
    if (account.CERT_HOME) certHome = path.resolve(home, account.CERT_HOME);
    if (account.LOG_FILE) logFile = path.resolve(home, account.LOG_FILE);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") out.problems.push(fsProblem(path.join(home, "account.conf"), err));
  }
  if (certHome !== home) {
    try {
      entries = await readdir(certHome);
    } catch (err) {
      out.problems.push(`${fsProblem(certHome, err, "list")} (CERT_HOME in ${path.join(home, "account.conf")})`);
      return;
    }
  }
  const outcomes = logFile ? await readLogOutcomes(logFile, out.problems) : new Map<string, LogOutcome>();
  // As `acme.sh --list` does: folders named like a domain (`*.*`, or `*:*` for IPv6).
  const candidates = entries.filter((n) => (n.includes(".") || n.includes(":")) && !n.startsWith("."));
  const results = await mapLimit(candidates, 32, (name) => readDomainDir(path.join(certHome, name), name, now, outcomes));
  for (const r of results) {
    if (r.report) out.certificates.push(r.report);
    out.problems.push(...r.problems);
  }
}

interface DirResult {
  report?: CertificateReport;
  problems: string[];
}

async function readDomainDir(dir: string, dirName: string, now: number, outcomes: Map<string, LogOutcome>): Promise<DirResult> {
  const problems: string[] = [];
  const ecc = dirName.endsWith(ECC_SUFFIX);
  const domain = ecc ? dirName.slice(0, -ECC_SUFFIX.length) : dirName;
  const confPath = path.join(dir, `${domain}.conf`);
  let text: string;
  try {
    text = await readFile(confPath, "utf8");
  } catch (err) {
    const code = errnoCode(err);
    // Files such as acme.sh.log or account.conf match `*.*` too; a folder without a conf is not a certificate.
    if (code === "ENOENT" || code === "ENOTDIR") return { problems };
    return { problems: [fsProblem(confPath, err)] };
  }
  const conf = parseShellConf(text);
  const v = conf.values;
  if (!v.Le_Domain) {
    return { problems: [`${confPath} has no Le_Domain — it is not a certificate conf acme.sh can renew; fix or remove the folder ${dir}`] };
  }
  if (conf.badLines.length)
    problems.push(`${confPath}: line ${conf.badLines.slice(0, 5).join(", ")} is not a KEY=value assignment — acme.sh may fail to read this conf; fix the line`);

  const certPath = path.join(dir, `${domain}.cer`);
  let facts: CertFacts | null = null;
  try {
    facts = await readCertFacts(certPath);
  } catch (err) {
    const neverIssued = !v.Le_CertCreateTime && errnoCode(err) === "ENOENT";
    if (!neverIssued) problems.push(errnoCode(err) ? fsProblem(certPath, err) : `cannot read the certificate ${certPath}: ${messageOf(err)}`);
  }

  const nextRenewalAt = epochSeconds(v.Le_NextRenewTime) ?? parseTimeStr(v.Le_NextRenewTimeStr);
  const outcome = outcomes.get(v.Le_Domain.toLowerCase());
  // The log is chronological and a success is logged too: the latest outcome is the one.
  const lastRenewalFailed = outcome?.failed === true;
  let lastError: string | null = lastRenewalFailed ? outcome!.message : null;
  if (!lastError && facts && nextRenewalAt !== null && now > nextRenewalAt + DAY_MS)
    lastError = `renewal overdue since ${new Date(nextRenewalAt).toISOString()} (Le_NextRenewTime): check acme.sh's cron job and its log (set LOG_FILE in account.conf to let the agent see failures)`;

  const alt = v.Le_Alt && v.Le_Alt !== "no" ? v.Le_Alt.split(",") : [];
  const report: CertificateReport = {
    id: reportId("acme.sh", dirName, dir),
    name: v.Le_Domain,
    domains: facts ? facts.domains.slice(0, 100) : uniqueDomains([v.Le_Domain, ...alt]),
    source: "acme.sh",
    ...certState(facts, { nextRenewalAt, lastRenewalFailed, lastError }, now),
    paths: {
      cert: certPath,
      key: path.join(dir, `${domain}.key`),
      chain: path.join(dir, "ca.cer"),
      fullchain: path.join(dir, "fullchain.cer"),
      config: confPath,
      ...(v.Le_RealFullChainPath ? { installedFullchain: clip(v.Le_RealFullChainPath, 1024) } : {}),
      ...(v.Le_RealCertPath ? { installedCert: clip(v.Le_RealCertPath, 1024) } : {}),
    },
    identifier: confPath,
    settings: acmeShSettings(v, ecc),
  };
  return { report, problems };
}

function epochSeconds(value: string | undefined): number | null {
  if (!value || !/^\d{9,11}$/.test(value)) return null;
  return Number(value) * 1000;
}

/** `2025-07-08T10:00:00Z` (3.0.3+) or the older `date -u` text (`Thu Apr  7 19:12:05 UTC 2022`). */
export function parseTimeStr(value: string | undefined): number | null {
  if (!value) return null;
  const iso = Date.parse(value);
  if (!Number.isNaN(iso)) return iso;
  const m = /^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d\d:\d\d:\d\d)\s+(?:UTC|GMT)\s+(\d{4})$/.exec(value.trim());
  if (!m) return null;
  const t = Date.parse(`${m[2]} ${m[1]} ${m[4]} ${m[3]} GMT`);
  return Number.isNaN(t) ? null : t;
}

/** CA, challenge and key type the next `acme.sh --cron` run uses (never credentials). */
function acmeShSettings(v: Record<string, string>, ecc: boolean): Record<string, string> {
  const s: Record<string, string> = {};
  if (v.Le_API) s.ca = clip(v.Le_API, 512);
  const first = (v.Le_Webroot ?? "").split(",")[0] ?? "";
  const challenge = challengeOf(first);
  if (challenge) s.challenge = challenge;
  if (first) s.mode = clip(first.startsWith("/") ? "webroot" : first, 512);
  const kl = v.Le_Keylength || (ecc ? "ec-256" : "2048");
  s.keyType = kl.startsWith("ec-") ? `ecdsa-p${kl.slice(3)}` : `rsa-${kl}`;
  if (v.Le_RenewalDays) s.renewalDays = clip(v.Le_RenewalDays, 512);
  if (v.Le_Preferred_Chain) s.preferredChain = clip(v.Le_Preferred_Chain, 512);
  return s;
}

function challengeOf(webroot: string): string | null {
  if (!webroot) return null;
  if (webroot.startsWith("dns_persist")) return "dns-persist-01";
  if (webroot === "dns" || webroot.startsWith("dns_")) return "dns-01";
  if (webroot === "alpn") return "tls-alpn-01";
  return "http-01";
}

// ---- LOG_FILE --------------------------------------------------------------------------------

interface LogOutcome {
  failed: boolean;
  message: string;
}

/**
 * The latest outcome per domain in acme.sh's log: a `Renewing: '<d>'` block ends in
 * `Cert success.` or `Error renewing <d>.`; the `[…]`-prefixed lines in between are the story.
 */
export function logOutcomes(text: string): Map<string, LogOutcome> {
  const outcomes = new Map<string, LogOutcome>();
  let current: string | null = null;
  let story: string[] = [];
  for (const rawLine of text.replace(/\x1b\[[0-9;]*m/g, "").split("\n")) {
    const line = rawLine.replace(/^\[[^\]]*\]\s?/, "");
    const renewing = /^Renew(?:ing)?: '([^']+)'/.exec(line);
    if (renewing) {
      current = renewing[1]!.toLowerCase();
      story = [];
      continue;
    }
    if (!current) continue;
    if (/^Cert success\./.test(line)) {
      outcomes.set(current, { failed: false, message: "" });
      current = null;
      continue;
    }
    const failed = /^Error renewing (\S+?)\.?$/.exec(line);
    if (failed) {
      const errors = story.filter((l) => /error|fail|invalid|timeout|denied|refused/i.test(l));
      const message = (errors.length ? errors.slice(-3) : story.slice(-3)).join("\n") || line;
      outcomes.set(current, { failed: true, message });
      current = null;
      continue;
    }
    if (story.length < 200) story.push(line.trim());
  }
  return outcomes;
}

async function readLogOutcomes(logFile: string, problems: string[]): Promise<Map<string, LogOutcome>> {
  try {
    const s = await stat(logFile);
    const buf = await readFile(logFile);
    const tail = s.size > MAX_LOG_BYTES ? buf.subarray(buf.length - MAX_LOG_BYTES) : buf;
    return logOutcomes(tail.toString("utf8"));
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") problems.push(`${fsProblem(logFile, err)} (LOG_FILE: needed to report failed renewals)`);
    return new Map();
  }
}
