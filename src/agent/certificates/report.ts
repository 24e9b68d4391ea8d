// The CertificateReport the hub receives for a managed certificate: stored state plus the
// status that follows from the clock. Nothing here reads key material.
import { CertificateReportSchema, type CertificateReport } from "../../protocol/certificates";
import { parseAttempts, type ManagedRow } from "../db/certificates";
import { certificateStatus } from "./plan";

export function managedReport(row: ManagedRow, now = Date.now()): CertificateReport {
  let deployments: CertificateReport["deployments"] = [];
  try {
    deployments = JSON.parse(row.deployments);
  } catch {}
  const report: CertificateReport = {
    id: row.id,
    name: row.name,
    domains: JSON.parse(row.domains),
    source: "managed",
    status: certificateStatus(row.status, row, now),
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    serial: row.serial,
    issuer: row.issuer,
    lastError: row.lastError,
    nextRenewalAt: row.nextRenewalAt,
    renewalReason: (row.renewalReason as CertificateReport["renewalReason"]) ?? null,
    failureCount: row.failureCount,
    attempts: parseAttempts(row),
    deployments,
    served: (row.served as CertificateReport["served"]) ?? null,
    ...(row.revision != null ? { revision: row.revision } : {}),
  };
  // The hub validates every report; an out-of-bounds value would make it refuse the whole sync.
  const checked = CertificateReportSchema.safeParse(report);
  if (checked.success) return checked.data;
  return { ...report, attempts: [], deployments: [], lastError: (row.lastError ?? "").slice(0, 2000) || null };
}
