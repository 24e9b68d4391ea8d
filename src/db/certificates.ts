// Certificates reported by instances (managed ones and those of external ACME clients).
// An instance's list is replaced as a whole when its hash changes.
import { and, asc, desc, eq, like, or, sql, type SQL } from "drizzle-orm";
import type { CertificateReport } from "../protocol/schemas";
import type { HubDb } from "./client";
import { certificates, instances } from "./schema";

export type CertificateRow = typeof certificates.$inferSelect;

/** The stored row for one reported certificate. */
export function certificateRow(instanceId: string, c: CertificateReport, now: number): typeof certificates.$inferInsert {
  return {
    instanceId,
    id: c.id,
    name: c.name,
    domains: JSON.stringify(c.domains),
    source: c.source,
    status: c.status,
    notBefore: c.notBefore ?? null,
    notAfter: c.notAfter ?? null,
    serial: c.serial ?? null,
    issuer: c.issuer ?? null,
    lastError: c.lastError ?? null,
    updatedAt: now,
  };
}

export async function replaceCertificates(db: HubDb, instanceId: string, list: CertificateReport[], hash: string) {
  const now = Date.now();
  await db.transaction(async (tx) => {
    await tx.delete(certificates).where(eq(certificates.instanceId, instanceId));
    // Chunked: SQLite limits the number of bound parameters per statement.
    for (let i = 0; i < list.length; i += 200) {
      await tx.insert(certificates).values(
        list.slice(i, i + 200).map((c) => certificateRow(instanceId, c, now)),
      ).onConflictDoNothing();
    }
    await tx.update(instances).set({ certificatesHash: hash, updatedAt: now }).where(eq(instances.id, instanceId));
  });
}

export type CertificateSort = "expiry" | "-expiry" | "name" | "instance";

export interface ListCertificatesOptions {
  instanceId?: string;
  status?: string;
  source?: string;
  q?: string;
  sort?: CertificateSort;
  offset?: number;
  limit?: number;
}

export async function listCertificates(db: HubDb, opts: ListCertificatesOptions = {}) {
  const conds: SQL[] = [];
  if (opts.instanceId) conds.push(eq(certificates.instanceId, opts.instanceId));
  if (opts.status) conds.push(eq(certificates.status, opts.status));
  if (opts.source) conds.push(eq(certificates.source, opts.source));
  if (opts.q) {
    const p = `%${opts.q}%`;
    conds.push(or(like(certificates.name, p), like(certificates.domains, p), like(instances.hostname, p))!);
  }
  const where = conds.length ? and(...conds) : undefined;
  // Unknown expiry sorts last either way.
  const order =
    opts.sort === "-expiry"
      ? [sql`${certificates.notAfter} is null`, desc(certificates.notAfter)]
      : opts.sort === "name"
        ? [asc(certificates.name)]
        : opts.sort === "instance"
          ? [asc(instances.hostname), asc(certificates.name)]
          : [sql`${certificates.notAfter} is null`, asc(certificates.notAfter)];
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
  const rows = await db
    .select({ cert: certificates, hostname: instances.hostname })
    .from(certificates)
    .innerJoin(instances, eq(instances.id, certificates.instanceId))
    .where(where)
    .orderBy(...order, asc(certificates.instanceId), asc(certificates.id))
    .limit(limit)
    .offset(opts.offset ?? 0);
  const [{ total }] = await db
    .select({ total: sql<number>`count(*)` })
    .from(certificates)
    .innerJoin(instances, eq(instances.id, certificates.instanceId))
    .where(where);
  return { total: Number(total), rows };
}

export async function certificateSources(db: HubDb): Promise<string[]> {
  const rows = await db.selectDistinct({ source: certificates.source }).from(certificates).orderBy(asc(certificates.source));
  return rows.map((r) => r.source);
}

export function certificateView(c: CertificateRow, hostname?: string) {
  let domains: string[] = [];
  try {
    domains = JSON.parse(c.domains);
  } catch {}
  return {
    instanceId: c.instanceId,
    hostname,
    id: c.id,
    name: c.name,
    domains,
    source: c.source,
    status: c.status,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    serial: c.serial,
    issuer: c.issuer,
    lastError: c.lastError,
    updatedAt: c.updatedAt,
  };
}
