// Scan of the external ACME clients on this host (certbot, acme.sh, Posh-ACME, simple-acme,
// win-acme): one reader per client, each parsing the client's own files read-only. A client
// that fails never stops the others; every problem becomes a sentence in its manager report.
import os from "node:os";
import type { CertificateReport, ExternalManagerName, ExternalManagerReport } from "../../protocol/certificates";
import { CertificateReportSchema, EXTERNAL_MANAGERS } from "../../protocol/certificates";
import type { ExternalManagersSetting } from "../../protocol/settings";
import { readAcmeSh } from "./acme-sh";
import { readCertbot } from "./certbot";
import { type ClientReader, type ClientScan, clip, dedupeIds, messageOf, type ScanEnvironment } from "./common";
import { resolvePaths } from "./paths";
import { readPoshAcme } from "./posh-acme";
import { readSimpleAcme } from "./simple-acme";
import { readWinAcme } from "./win-acme";

export type { ScanEnvironment } from "./common";

export function defaultScanEnvironment(): ScanEnvironment {
  return { home: os.homedir(), isRoot: process.getuid?.() === 0, platform: process.platform, env: { ...process.env } };
}

const READERS: Record<ExternalManagerName, ClientReader> = {
  certbot: readCertbot,
  "acme.sh": readAcmeSh,
  "posh-acme": readPoshAcme,
  "simple-acme": readSimpleAcme,
  "win-acme": readWinAcme,
};

const MAX_PROBLEMS = 100;

export async function scanExternalManagers(
  setting: ExternalManagersSetting,
  env: ScanEnvironment = defaultScanEnvironment(),
): Promise<{ certificates: CertificateReport[]; managers: ExternalManagerReport[] }> {
  const results = await Promise.all(EXTERNAL_MANAGERS.map((name) => scanOne(name, setting, env)));
  const certificates = results.flatMap((r) => r.certificates);
  dedupeIds(certificates);
  return { certificates, managers: results.map((r) => r.manager) };
}

async function scanOne(
  name: ExternalManagerName,
  setting: ExternalManagersSetting,
  env: ScanEnvironment,
): Promise<{ certificates: CertificateReport[]; manager: ExternalManagerReport }> {
  const paths = resolvePaths(name, setting, env);
  const configPath = paths.roots.length ? paths.roots.join(", ") : null;
  if (setting[name]?.enabled === false) {
    return { certificates: [], manager: { name, status: "disabled", configPath, certificateCount: 0, scannedAt: null, problems: [] } };
  }
  const now = Date.now();
  let scan: ClientScan;
  try {
    scan = paths.roots.length ? await READERS[name]({ roots: paths.roots, logPath: paths.logPath, now }) : { certificates: [], problems: [], found: false };
  } catch (err) {
    // A reader bug must not take the other clients down.
    scan = { certificates: [], problems: [`scanning ${configPath ?? name} failed unexpectedly: ${messageOf(err)} — please report this as a bug`], found: true };
  }
  // Every report is checked against the wire schema here, so one odd value costs one
  // certificate (named in a problem), never the whole sync.
  const certificates: CertificateReport[] = [];
  const problems = [...scan.problems];
  for (const report of scan.certificates) {
    const parsed = CertificateReportSchema.safeParse(report);
    if (parsed.success) certificates.push(parsed.data);
    else {
      const issue = parsed.error.issues[0];
      problems.push(`${report.identifier ?? report.id}: cannot report this certificate (${issue?.path.join(".")}: ${issue?.message}) — please report this as a bug`);
    }
  }
  let status: ExternalManagerReport["status"];
  if (!scan.found) status = "not-found";
  else if (scan.rootUnreadable || problems.length > 0) status = "error";
  else status = "ok";
  return {
    certificates,
    manager: {
      name,
      status,
      configPath: configPath === null ? null : clip(configPath, 1024),
      certificateCount: certificates.length,
      scannedAt: now,
      problems: capProblems(problems),
    },
  };
}

function capProblems(problems: string[]): string[] {
  const unique = [...new Set(problems)].map((p) => clip(p, 1000));
  if (unique.length <= MAX_PROBLEMS) return unique;
  const kept = unique.slice(0, MAX_PROBLEMS - 1);
  kept.push(`… and ${unique.length - kept.length} more problems of the same kinds`);
  return kept;
}
