// Certificates reported by instances (managed ones and those of external ACME clients).
// An instance's list is replaced as a whole when its hash changes.
import { and, asc, desc, eq, inArray, like, or, sql, type SQL } from "drizzle-orm";
import type { AccountReport, ExternalManagerReport } from "../protocol/certificates";
import type { CertificateReport } from "../protocol";
import { replaceAccountRegistrations, replaceExternalManagers } from "./agent-reports";
import type { HubDb } from "./client";
import { certificates, instances, managedCertificates } from "./schema";

export type CertificateRow = typeof certificates.$inferSelect;

/** Id prefix of managed certificate definitions made on the hub. */
export const MANAGED_ID_PREFIX = "mc_";

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
    nextRenewalAt: c.nextRenewalAt ?? null,
    renewalReason: c.renewalReason ?? null,
    failureCount: c.failureCount ?? 0,
    served: c.served ?? null,
    revision: c.revision ?? null,
    detail:
      c.attempts || c.deployments || c.paths || c.identifier
        ? { attempts: c.attempts, deployments: c.deployments, paths: c.paths, identifier: c.identifier }
        : null,
  };
}

/** The row shown for a managed certificate the agent has not reported yet. */
function pendingRow(instanceId: string, def: { id: string; name: string; domains: string[]; revision: number }, now: number): typeof certificates.$inferInsert {
  return { instanceId, id: def.id, name: def.name, domains: JSON.stringify(def.domains), source: "managed", status: "pending", updatedAt: now, failureCount: 0 };
}

/** A new managed definition shows up in lists at once, as "pending", before any report. */
export async function insertPendingCertificate(db: HubDb, instanceId: string, def: { id: string; name: string; domains: string[]; revision: number }) {
  await db.insert(certificates).values(pendingRow(instanceId, def, Date.now())).onConflictDoNothing();
}

/** After an edit: a row still pending follows the definition's name and domains. */
export async function refreshPendingCertificate(db: HubDb, instanceId: string, def: { id: string; name: string; domains: string[] }) {
  await db
    .update(certificates)
    .set({ name: def.name, domains: JSON.stringify(def.domains) })
    .where(and(eq(certificates.instanceId, instanceId), eq(certificates.id, def.id), eq(certificates.status, "pending")));
}

export async function deleteCertificateReport(db: HubDb, instanceId: string, id: string) {
  await db.delete(certificates).where(and(eq(certificates.instanceId, instanceId), eq(certificates.id, id)));
}

export async function getCertificateReport(db: HubDb, instanceId: string, id: string): Promise<CertificateRow | undefined> {
  const [row] = await db.select().from(certificates).where(and(eq(certificates.instanceId, instanceId), eq(certificates.id, id)));
  return row;
}

export async function certificateReportsOf(db: HubDb, instanceId: string, ids: string[]): Promise<CertificateRow[]> {
  if (!ids.length) return [];
  return db.select().from(certificates).where(and(eq(certificates.instanceId, instanceId), inArray(certificates.id, ids)));
}

/**
 * Replaces an instance's reported list (and, when sent with it, its CA account registrations
 * and external manager scans). Managed certificates follow the hub's definitions: a report for
 * a definition that no longer exists is dropped, and a definition the agent has not reported
 * yet keeps its row (or gets a "pending" one), so it never vanishes from the lists.
 */
export async function replaceCertificates(
  db: HubDb,
  instanceId: string,
  list: CertificateReport[],
  hash: string,
  extra: { accounts?: AccountReport[]; externalManagers?: ExternalManagerReport[] } = {},
) {
  const now = Date.now();
  await db.transaction(async (tx) => {
    const defs = await tx
      .select({ id: managedCertificates.id, name: managedCertificates.name, domains: managedCertificates.domains, revision: managedCertificates.revision })
      .from(managedCertificates)
      .where(eq(managedCertificates.instanceId, instanceId));
    const defined = new Set(defs.map((d) => d.id));
    // Hub definitions have "mc_" ids: a report of one that is not defined (any more) is a
    // deleted definition the agent has not dropped yet. Other managed ids are kept as reported.
    const kept = list.filter((c) => c.source !== "managed" || defined.has(c.id) || !c.id.startsWith(MANAGED_ID_PREFIX));
    const reported = new Set(kept.filter((c) => c.source === "managed").map((c) => c.id));
    const unreported = defs.filter((d) => !reported.has(d.id)).map((d) => d.id);
    await tx
      .delete(certificates)
      .where(
        and(
          eq(certificates.instanceId, instanceId),
          unreported.length ? sql`not (${certificates.source} = 'managed' and ${inArray(certificates.id, unreported)})` : undefined,
        ),
      );
    // Chunked: SQLite limits the number of bound parameters per statement.
    for (let i = 0; i < kept.length; i += 100) {
      await tx.insert(certificates).values(kept.slice(i, i + 100).map((c) => certificateRow(instanceId, c, now))).onConflictDoNothing();
    }
    for (const d of defs) if (!reported.has(d.id)) await tx.insert(certificates).values(pendingRow(instanceId, d, now)).onConflictDoNothing();
    if (extra.accounts) await replaceAccountRegistrations(tx, instanceId, extra.accounts);
    if (extra.externalManagers) await replaceExternalManagers(tx, instanceId, extra.externalManagers);
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

/** Fleet-wide certificate counts for the dashboard: all, expiring within `expiringMs`, expired. */
export async function certificateCounts(db: HubDb, now: number, expiringMs: number) {
  const [row] = await db
    .select({
      total: sql<number>`count(*)`,
      expiring: sql<number>`coalesce(sum(case when ${certificates.notAfter} > ${now} and ${certificates.notAfter} <= ${now + expiringMs} then 1 else 0 end), 0)`,
      expired: sql<number>`coalesce(sum(case when ${certificates.notAfter} <= ${now} then 1 else 0 end), 0)`,
    })
    .from(certificates);
  return { total: Number(row?.total ?? 0), expiring: Number(row?.expiring ?? 0), expired: Number(row?.expired ?? 0) };
}

/** One instance's certificates, soonest expiry first (undated last), at most `limit`, and their total. */
export async function instanceCertificatesPage(db: HubDb, instanceId: string, limit: number) {
  const rows = await db
    .select({ instanceId: certificates.instanceId, id: certificates.id, name: certificates.name, domains: certificates.domains, source: certificates.source, status: certificates.status, notAfter: certificates.notAfter, lastError: certificates.lastError })
    .from(certificates)
    .where(eq(certificates.instanceId, instanceId))
    .orderBy(sql`${certificates.notAfter} is null`, asc(certificates.notAfter), asc(certificates.id))
    .limit(limit);
  const [{ n }] = await db.select({ n: sql<number>`count(*)` }).from(certificates).where(eq(certificates.instanceId, instanceId));
  return { rows, total: Number(n) };
}

/** Full rows for keys found by a list query (listCertificatePage), in the order given. */
export async function certificatesByKeys(db: HubDb, keys: { instanceId: string; id: string }[]) {
  if (keys.length === 0) return [];
  const rows = await db
    .select({ cert: certificates, hostname: instances.hostname })
    .from(certificates)
    .innerJoin(instances, eq(instances.id, certificates.instanceId))
    .where(sql`(${certificates.instanceId}, ${certificates.id}) in (values ${sql.join(keys.map((k) => sql`(${k.instanceId}, ${k.id})`), sql`, `)})`);
  const byKey = new Map(rows.map((r) => [`${r.cert.instanceId}\n${r.cert.id}`, r]));
  return keys.map((k) => byKey.get(`${k.instanceId}\n${k.id}`)).filter((r) => r !== undefined);
}
