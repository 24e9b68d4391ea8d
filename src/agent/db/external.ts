// Cache of the last external ACME client scan (one row): what the agent reports for certbot,
// acme.sh, Posh-ACME, simple-acme and win-acme between scans and across restarts.
import { eq } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import type { CertificateReport, ExternalManagerReport } from "../../protocol/certificates";
import type * as schema from "./schema";
import { externalScan } from "./schema";

type Db = LibSQLDatabase<typeof schema>;
export interface ExternalScanCache {
  certificates: CertificateReport[];
  managers: ExternalManagerReport[];
  scannedAt: number;
}

export async function saveExternalScan(db: Db, scan: ExternalScanCache) {
  const row = { id: 1, certificates: JSON.stringify(scan.certificates), managers: JSON.stringify(scan.managers), scannedAt: scan.scannedAt };
  await db.insert(externalScan).values(row).onConflictDoUpdate({ target: externalScan.id, set: row });
}

export async function loadExternalScan(db: Db): Promise<ExternalScanCache | null> {
  const [row] = await db.select().from(externalScan).where(eq(externalScan.id, 1));
  if (!row) return null;
  return { certificates: JSON.parse(row.certificates), managers: JSON.parse(row.managers), scannedAt: row.scannedAt };
}
