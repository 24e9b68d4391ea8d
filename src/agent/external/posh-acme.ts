// Posh-ACME reader: `<root>/<server>/<account>/<order>/order.json` (every server and account,
// not only the current ones), with cert.cer next to it. Windows PowerShell writes the JSON as
// UTF-16LE with a BOM; folder names write `*` as `!` and can be anything (-Name), so domains
// come from the certificate or order.json, never from folder names. A renewal in progress
// renames cert.cer to cert.cer.bak. Posh-ACME keeps no log: the order status is the result.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { CertificateReport } from "../../protocol/certificates";
import {
  type ClientScan,
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

const Str = z.string().max(4096);
const OrderJson = z
  .object({
    status: Str.nullish(),
    MainDomain: Str.nullish(),
    SANs: z.array(Str).max(1000).nullish(),
    identifiers: z.array(z.object({ type: Str.nullish(), value: Str.nullish() }).passthrough()).max(1000).nullish(),
    KeyLength: z.union([Str, z.number()]).nullish(),
    CertExpires: Str.nullish(),
    RenewAfter: Str.nullish(),
    Plugin: z.union([Str, z.array(Str).max(1000)]).nullish(),
    DnsPlugin: z.union([Str, z.array(Str).max(1000)]).nullish(),
    FriendlyName: Str.nullish(),
    PreferredChain: Str.nullish(),
    Profile: Str.nullish(),
    error: z.unknown().optional(),
  })
  .passthrough();
const DirJson = z.object({ location: Str.nullish() }).passthrough();

const HTTP_PLUGINS = new Set(["WebRoot", "WebSelfHost"]);

export async function readPoshAcme(input: ReaderInput): Promise<ClientScan> {
  const out: ClientScan = { certificates: [], problems: [], found: false };
  for (const root of input.roots) await scanRoot(root, input.now, out);
  return out;
}

async function listDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** Parses a JSON file written by either PowerShell (UTF-16LE + BOM, or UTF-8). */
async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readText(file));
}

async function scanRoot(root: string, now: number, out: ClientScan): Promise<void> {
  const listed = await openRoot(root, out, () => listDirs(root));
  if (!listed) return;
  const servers = listed.value;
  const orderDirs: Array<{ dir: string; server: string; account: string; order: string; ca: string | null }> = [];
  for (const server of servers) {
    const serverDir = path.join(root, server);
    let ca: string | null = null;
    try {
      const dirJson = DirJson.safeParse(await readJson(path.join(serverDir, "dir.json")));
      ca = dirJson.success ? (dirJson.data.location ?? null) : null;
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue; // not a server folder
      if (errnoCode(err)) {
        out.problems.push(fsProblem(path.join(serverDir, "dir.json"), err));
        continue;
      }
      out.problems.push(`cannot parse ${path.join(serverDir, "dir.json")}: ${messageOf(err)} — run Set-PAServer to rewrite it`);
    }
    let accounts: string[];
    try {
      accounts = await listDirs(serverDir);
    } catch (err) {
      out.problems.push(fsProblem(serverDir, err, "list"));
      continue;
    }
    for (const account of accounts) {
      const accountDir = path.join(serverDir, account);
      let orders: string[];
      try {
        orders = await listDirs(accountDir);
      } catch (err) {
        out.problems.push(fsProblem(accountDir, err, "list"));
        continue;
      }
      for (const order of orders) orderDirs.push({ dir: path.join(accountDir, order), server, account, order, ca });
    }
  }
  const results = await mapLimit(orderDirs, 32, (o) => readOrder(o, now));
  for (const r of results) {
    if (r.report) out.certificates.push(r.report);
    out.problems.push(...r.problems);
  }
}

async function readOrder(
  o: { dir: string; server: string; account: string; order: string; ca: string | null },
  now: number,
): Promise<{ report?: CertificateReport; problems: string[] }> {
  const orderFile = path.join(o.dir, "order.json");
  let raw: unknown;
  try {
    raw = await readJson(orderFile);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { problems: [] }; // not an order folder
    if (errnoCode(err)) return { problems: [fsProblem(orderFile, err)] };
    return { problems: [`cannot parse ${orderFile}: ${messageOf(err)} — Posh-ACME cannot load this order either; restore it or remove ${o.dir}`] };
  }
  const parsed = OrderJson.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problems: [`${orderFile} is not a Posh-ACME order (${issue?.path.join(".")}: ${issue?.message}) — restore it or remove ${o.dir}`] };
  }
  const order = parsed.data;
  const problems: string[] = [];

  // cert.cer, or cert.cer.bak while a new order is in flight (or after it failed).
  let facts: CertFacts | null = null;
  let certPath = path.join(o.dir, "cert.cer");
  let fromBackup = false;
  for (const candidate of ["cert.cer", "cert.cer.bak"]) {
    const file = path.join(o.dir, candidate);
    try {
      facts = await readCertFacts(file);
      certPath = file;
      fromBackup = candidate.endsWith(".bak");
      break;
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue;
      problems.push(errnoCode(err) ? fsProblem(file, err) : `cannot read the certificate ${file}: ${messageOf(err)}`);
      break;
    }
  }

  const status = (order.status ?? "").toLowerCase();
  const lastRenewalFailed = status === "invalid";
  let lastError: string | null = null;
  if (lastRenewalFailed) lastError = `the last order for ${order.MainDomain ?? o.order} is invalid (the CA refused it): run Submit-Renewal or New-PACertificate again and check its output${orderErrorText(order.error)}`;
  else if (fromBackup) {
    let since = "";
    try {
      since = ` since ${new Date((await stat(orderFile)).mtimeMs).toISOString()}`;
    } catch {
      // no time then
    }
    lastError = `a renewal has been in progress${since} (order status "${status || "unknown"}"); the certificate in use is cert.cer.bak — if it was interrupted, run Submit-Renewal again`;
  }
  const nextRenewalAt = parseIso(order.RenewAfter);
  const identifiers = (order.identifiers ?? []).map((i) => i.value ?? null);
  const domains = facts ? facts.domains : uniqueDomains([order.MainDomain, ...(order.SANs ?? []), ...identifiers]);
  const name = order.FriendlyName || order.MainDomain || o.order.replace(/!/g, "*");
  const report: CertificateReport = {
    id: reportId("posh-acme", `${o.server}:${o.account}:${o.order}`, o.dir),
    name: clip(name, 255),
    domains: domains.slice(0, 100),
    source: "posh-acme",
    ...certState(facts, { nextRenewalAt, lastRenewalFailed, lastError }, now),
    paths: {
      cert: certPath,
      key: path.join(o.dir, "cert.key"),
      chain: path.join(o.dir, fromBackup ? "chain.cer.bak" : "chain.cer"),
      fullchain: path.join(o.dir, fromBackup ? "fullchain.cer.bak" : "fullchain.cer"),
      config: orderFile,
    },
    identifier: o.dir,
    settings: poshSettings(order, o.ca),
  };
  return { report, problems };
}

function orderErrorText(error: unknown): string {
  if (error && typeof error === "object" && "detail" in error && typeof (error as { detail: unknown }).detail === "string")
    return `: ${(error as { detail: string }).detail}`;
  return "";
}

function parseIso(value: string | null | undefined): number | null {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

function poshSettings(order: z.infer<typeof OrderJson>, ca: string | null): Record<string, string> {
  const s: Record<string, string> = {};
  if (ca) s.ca = clip(ca, 512);
  const plugins = [order.Plugin ?? order.DnsPlugin ?? []].flat();
  if (plugins.length) {
    s.plugin = clip([...new Set(plugins)].join(", "), 512);
    const kinds = new Set(plugins.map((p) => (HTTP_PLUGINS.has(p) ? "http-01" : "dns-01")));
    s.challenge = [...kinds].join(", ");
  }
  if (order.KeyLength != null) {
    const kl = String(order.KeyLength);
    s.keyType = kl.startsWith("ec-") ? `ecdsa-p${kl.slice(3)}` : `rsa-${kl}`;
  }
  if (order.PreferredChain) s.preferredChain = clip(order.PreferredChain, 512);
  if (order.Profile) s.profile = clip(order.Profile, 512);
  if (order.status) s.orderStatus = clip(order.status, 512);
  return s;
}
