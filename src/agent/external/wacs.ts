// Shared reader for simple-acme and win-acme (one code base, PKISharp.WACS): every
// `<Id>.renewal.json` under the config root's server folders, checked the way
// RenewalStoreDisk checks them, with the result and due date from its History. The
// certificate is read from the PemFiles store when there is one; IIS renewals name no SANs
// (they come from the certificate). `enc-` values are DPAPI-protected for one machine: they
// are reported as set, never decrypted.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
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
  readText,
  reportId,
  uniqueDomains,
} from "./common";
import { type CertFacts, readCertFacts } from "./x509";

export type WacsClient = "simple-acme" | "win-acme";

const Str = z.string().max(8192);
const Plugin = z.object({ Plugin: Str.nullish() }).passthrough();
const OrderResult = z
  .object({
    Name: Str.nullish(),
    Success: z.boolean().nullish(),
    ExpireDate: Str.nullish(),
    DueDate: z.object({ Start: Str.nullish(), End: Str.nullish(), Source: Str.nullish() }).passthrough().nullish(),
    Thumbprint: Str.nullish(),
    Missing: z.boolean().nullish(),
    Revoked: z.boolean().nullish(),
    ErrorMessages: z.array(Str).max(100).nullish(),
  })
  .passthrough();
const RenewResult = z
  .object({
    Date: Str.nullish(),
    Success: z.boolean().nullish(),
    OrderResults: z.array(OrderResult).max(1000).nullish(),
    ErrorMessages: z.array(Str).max(100).nullish(),
    ExpireDate: Str.nullish(),
    Thumbprints: z.array(Str).max(100).nullish(),
  })
  .passthrough();
const RenewalJson = z
  .object({
    Id: Str.nullish(),
    EndPoint: Str.nullish(),
    FriendlyName: Str.nullish(),
    LastFriendlyName: Str.nullish(),
    PfxPasswordProtected: Str.nullish(),
    TargetPluginOptions: Plugin.nullish(),
    ValidationPluginOptions: Plugin.nullish(),
    CsrPluginOptions: Plugin.nullish(),
    OrderPluginOptions: Plugin.nullish(),
    StorePluginOptions: z.array(Plugin).max(32).nullish(),
    InstallationPluginOptions: z.array(Plugin).max(32).nullish(),
    History: z.array(RenewResult).max(100_000).nullish(),
  })
  .passthrough();
type Renewal = z.infer<typeof RenewalJson>;

// Plugin GUIDs from the [IPlugin.Plugin…("guid")] attributes.
const TARGET_MANUAL = "e239db3b-b42f-48aa-b64f-46d4f3e9941b";
const TARGET_IIS = new Set(["54deb3ee-b5df-4381-8485-fe386054055b", "2f5dd428-0f5d-4c8a-8fd0-56fc1b5985ce", "cdd79a68-4a87-4039-bee8-5a0ebdca41cb", "d7940b23-f570-460e-ab15-2c822a79009b"]);
/** The CSR-file target brings its own key, so its renewals have no CsrPluginOptions. */
const TARGET_CSR = "5c3db0fb-840b-469f-b5a7-0635d8e9a93d";
const CSR_RSA = "b9060d4b-c2d3-49ac-b37f-962e7c3cbe9d";
const CSR_EC = "9aadcf71-5241-4c4f-aee1-bfe3f6be3489";
const STORE_PEM = "e57c70e4-cd60-4ba6-80f6-a41703e21031";
const STORES: Record<string, string> = {
  [STORE_PEM]: "pemfiles",
  "e30adc8e-d756-4e16-a6f2-450f784b1a97": "certificatestore",
  "2a2c576f-7637-4ade-b8db-e8613b0bb33e": "pfxfile",
  "af1f77b6-4e7b-4f96-bba5-c2eeb4d0dd42": "centralssl",
};
const VALIDATION: Record<string, string> = {
  "1c77b3a4-5310-4c46-92c6-00d866e84d6b": "http-01",
  "c7d5e050-9363-4ba1-b3a8-931b31c618b7": "http-01",
  "a1565064-b208-4467-8ca1-1bd3c08aa500": "tls-alpn-01",
  "8f1da72e-f727-49f0-8546-ef69e5ecec32": "dns-01",
  "73af2c2e-4cf1-4198-a4c8-1129003cfb75": "dns-01",
  "e45d62b9-f9a8-441e-b95f-c5ee0dcd8040": "manual",
};
/** RenewalDays / RenewalMinimumValidDays defaults (ScheduledTaskSettings). */
const RENEWAL_DAYS = 55;
const MIN_VALID_DAYS = 7;
/** Folders the client keeps beside its renewals that never hold one. */
const SKIP_DIRS = new Set(["log", "certificates", "orders", "plugins", "temp"]);

export async function readWacs(client: WacsClient, input: ReaderInput): Promise<ClientScan> {
  const out: ClientScan = { certificates: [], problems: [], found: false };
  for (const root of input.roots) await scanRoot(client, root, input.now, out);
  return out;
}

async function scanRoot(client: WacsClient, root: string, now: number, out: ClientScan): Promise<void> {
  const files: string[] = [];
  if (!(await openRoot(root, out, () => collectRenewalFiles(root, 0, files, out.problems)))) return;
  const results = await mapLimit(files.sort(), 32, (file) => readRenewal(client, root, file, now));
  for (const r of results) {
    if (r.report) out.certificates.push(r.report);
    out.problems.push(...r.problems);
  }
}

/** `*.renewal.json` in the root and the server folders below it (RenewalStoreDisk: AllDirectories). */
async function collectRenewalFiles(dir: string, depth: number, into: string[], problems: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isFile() && e.name.toLowerCase().endsWith(".renewal.json")) into.push(full);
    else if (e.isDirectory() && depth < 3 && !SKIP_DIRS.has(e.name.toLowerCase())) {
      try {
        await collectRenewalFiles(full, depth + 1, into, problems);
      } catch (err) {
        problems.push(fsProblem(full, err, "list"));
      }
    }
  }
}

async function readRenewal(client: WacsClient, root: string, file: string, now: number): Promise<{ report?: CertificateReport; problems: string[] }> {
  const fail = (reason: string) => ({ problems: [`unable to read renewal ${file}: ${reason} — ${client} skips it too; fix the file or recreate the renewal`] });
  let raw: unknown;
  try {
    raw = JSON.parse(await readText(file));
  } catch (err) {
    if (errnoCode(err)) return { problems: [fsProblem(file, err)] };
    return fail(`not valid JSON (${messageOf(err)})`);
  }
  const parsed = RenewalJson.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`${issue?.path.join(".")}: ${issue?.message}`);
  }
  const r = parsed.data;
  // The same checks RenewalStoreDisk makes before it accepts a renewal.
  const fileId = path.basename(file).replace(/\.renewal\.json$/i, "");
  if (r.Id !== fileId) return fail(`mismatch between file name and Id ${r.Id ?? "(none)"}`);
  if (!r.TargetPluginOptions?.Plugin) return fail("missing source plugin options");
  if (!r.ValidationPluginOptions?.Plugin) return fail("missing validation plugin options");
  if (!r.StorePluginOptions) return fail("missing store plugin options");
  if (!r.CsrPluginOptions && r.TargetPluginOptions.Plugin.toLowerCase() !== TARGET_CSR) return fail("missing csr plugin options");
  if (!r.InstallationPluginOptions) return fail("missing installation plugin options");

  const problems: string[] = [];
  const target = r.TargetPluginOptions;
  const targetDomains = targetNames(target);
  const history = [...(r.History ?? [])].sort((a, b) => (parseDate(a.Date) ?? 0) - (parseDate(b.Date) ?? 0));
  const last = history.at(-1);
  const lastSuccess = [...history].reverse().find((h) => h.Success === true);

  // Certificate file: the PemFiles store is the one readable without Windows.
  let facts: CertFacts | null = null;
  let certPath: string | undefined;
  let chainPath: string | undefined;
  let keyPath: string | undefined;
  const pem = r.StorePluginOptions.find((s) => s.Plugin === STORE_PEM);
  if (pem && typeof pem.Path === "string" && pem.Path) {
    const name = (typeof pem.FileName === "string" && pem.FileName) || (typeof target.CommonName === "string" && target.CommonName) || targetDomains[0];
    if (name) {
      const windowsPath = /^[A-Za-z]:\\|^\\\\/.test(pem.Path);
      const join = windowsPath ? path.win32.join : path.join;
      const base = name.replace(/\*/g, "_");
      certPath = join(pem.Path, `${base}-crt.pem`);
      chainPath = join(pem.Path, `${base}-chain.pem`);
      keyPath = join(pem.Path, `${base}-key.pem`);
      if (!windowsPath || process.platform === "win32") {
        try {
          facts = await readCertFacts(certPath);
        } catch (err) {
          if (!(errnoCode(err) === "ENOENT" && !lastSuccess))
            problems.push(errnoCode(err) ? fsProblem(certPath, err) : `cannot read the certificate ${certPath}: ${messageOf(err)}`);
        }
      }
    }
  }

  const lastRenewalFailed = last !== undefined && last.Success === false;
  const lastError = lastRenewalFailed ? errorText(last) : null;
  const due = dueDate(history);
  // Without a readable file the renewal's own record of expiry is the best there is.
  const recordedExpiry = lastSuccess ? minDate((lastSuccess.OrderResults ?? []).map((o) => o.ExpireDate).concat(lastSuccess.ExpireDate)) : null;
  const notAfter = facts?.notAfter ?? recordedExpiry;
  const serverDir = path.relative(root, path.dirname(file)) || ".";
  const settings = wacsSettings(r, serverDir, facts === null && recordedExpiry !== null);
  const name = r.LastFriendlyName || r.FriendlyName || target.CommonName || r.Id!;
  const report: CertificateReport = {
    // Ids are GUIDs: unique across server folders (dedupeIds adds a hash if one is copied).
    id: reportId(client, r.Id!, file),
    name: clip(String(name), 255),
    domains: (facts ? facts.domains : targetDomains).slice(0, 100),
    source: client,
    ...certState(facts, { notAfter, nextRenewalAt: due, lastRenewalFailed, lastError }, now),
    paths: {
      ...(certPath ? { cert: clip(certPath, 1024) } : {}),
      ...(keyPath ? { key: clip(keyPath, 1024) } : {}),
      ...(chainPath ? { fullchain: clip(chainPath, 1024) } : {}),
      config: file,
    },
    identifier: r.Id!,
    settings,
  };
  return { report, problems };
}

/** Manual targets list their names; IIS targets only when limited to hosts (else from the certificate). */
function targetNames(target: Record<string, unknown>): string[] {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? v.split(",") : []);
  if (target.Plugin === TARGET_MANUAL) return uniqueDomains([typeof target.CommonName === "string" ? target.CommonName : null, ...list(target.AlternativeNames)]);
  if (TARGET_IIS.has(String(target.Plugin))) return uniqueDomains([typeof target.CommonName === "string" ? target.CommonName : null, ...list(target.IncludeHosts)]);
  return uniqueDomains([typeof target.CommonName === "string" ? target.CommonName : null, ...list(target.AlternativeNames)]);
}

/** .NET writes 7 fractional digits and legacy entries carry offsets or no zone (taken as UTC). */
export function parseDate(value: string | null | undefined): number | null {
  if (!value) return null;
  let v = value.trim().replace(/(\.\d{3})\d+/, "$1");
  if (/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v)) v += "Z";
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

function minDate(values: Array<string | null | undefined>): number | null {
  const times = values.map(parseDate).filter((t): t is number => t !== null);
  return times.length ? Math.min(...times) : null;
}

/**
 * DueDateStaticService: per order name, the latest non-failed result's DueDate (or, for
 * entries written before DueDate existed, RenewalDays after the run capped by the minimum
 * validity); the earliest Start over current orders, none when an order was revoked.
 */
export function dueDate(history: z.infer<typeof RenewResult>[]): number | null {
  const byOrder = new Map<string, { start: number; missing: boolean; revoked: boolean }>();
  for (const h of history) {
    const runAt = parseDate(h.Date);
    const orders = h.OrderResults ?? [{ Name: "main", Success: h.Success, ExpireDate: h.ExpireDate }];
    for (const o of orders) {
      const key = (o.Name ?? "main").toLowerCase();
      if (o.Success !== false) {
        let start = parseDate(o.DueDate?.Start);
        if (start === null && runAt !== null) {
          const end = parseDate(o.ExpireDate) ?? parseDate(h.ExpireDate) ?? runAt + 365 * DAY_MS;
          start = Math.min(runAt + RENEWAL_DAYS * DAY_MS, end - MIN_VALID_DAYS * DAY_MS);
        }
        if (start !== null) byOrder.set(key, { start, missing: false, revoked: false });
      }
      const info = byOrder.get(key);
      if (info) {
        info.missing = o.Missing === true;
        info.revoked = o.Revoked === true;
      }
    }
  }
  const current = [...byOrder.values()].filter((o) => !o.missing);
  if (current.length === 0 || current.some((o) => o.revoked)) return null;
  return Math.min(...current.map((o) => o.start));
}

function errorText(entry: z.infer<typeof RenewResult>): string {
  const messages = [...(entry.ErrorMessages ?? []), ...(entry.OrderResults ?? []).flatMap((o) => o.ErrorMessages ?? [])];
  const at = parseDate(entry.Date);
  const when = at !== null ? ` at ${new Date(at).toISOString()}` : "";
  return messages.length ? `renewal failed${when}: ${[...new Set(messages)].join("; ")}` : `renewal failed${when} (no message recorded; see the client's log)`;
}

/** CA, challenge, key type and store as the renewal records them; protected values only as "set". */
function wacsSettings(r: Renewal, serverDir: string, expiryFromHistory: boolean): Record<string, string> {
  const s: Record<string, string> = { ca: clip(r.EndPoint ?? serverDir, 512) };
  const v = String(r.ValidationPluginOptions?.Plugin ?? "");
  s.challenge = VALIDATION[v] ?? (typeof r.ValidationPluginOptions?.ChallengeType === "string" ? r.ValidationPluginOptions.ChallengeType : `unknown (${clip(v, 64)})`);
  const csr = r.CsrPluginOptions?.Plugin;
  if (csr === CSR_RSA) s.keyType = "rsa";
  else if (csr === CSR_EC) s.keyType = "ecdsa";
  const target = String(r.TargetPluginOptions?.Plugin ?? "");
  s.target = target === TARGET_MANUAL ? "manual" : TARGET_IIS.has(target) ? "iis" : `unknown (${clip(target, 64)})`;
  s.store = (r.StorePluginOptions ?? []).map((p) => STORES[String(p.Plugin)] ?? `unknown (${p.Plugin})`).join(", ") || "none";
  if (expiryFromHistory) s.notAfterSource = "renewal history (certificate file not readable here)";
  const thumb = [...(r.History ?? [])].reverse().find((h) => h.Success === true)?.OrderResults?.find((o) => o.Thumbprint)?.Thumbprint;
  if (thumb) s.thumbprint = clip(thumb.toLowerCase(), 128);
  const protectedValues = describeProtected(r);
  if (protectedValues) s.protectedValues = clip(protectedValues, 512);
  return s;
}

/** Names every stored secret and how it is kept (never its value). */
function describeProtected(r: Renewal): string {
  const found: string[] = [];
  const visit = (value: unknown, where: string) => {
    if (typeof value === "string") {
      if (value.startsWith("enc-")) found.push(`${where}: encrypted with Windows DPAPI for its machine (not decrypted)`);
      else if (value.startsWith("vault://")) found.push(`${where}: ${clip(value, 128)}`);
      else if (value.startsWith("clear-")) found.push(`${where}: stored in clear text`);
    } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${where}[${i}]`));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) if (k !== "History") visit(v, where ? `${where}.${k}` : k);
  };
  visit(r, "");
  return found.join("; ");
}
