// Reads behind the Certificates page: one filtered, sorted, paginated query over every
// reported certificate (managed and external) plus the summary counts, each a single bounded
// statement whatever the fleet size (no query per row). Health is derived in SQL so the
// summary, the filter and the badges agree:
//   expired, failed                    — the agent's status
//   warning                            — expiring, or a deployment task failed, or the served
//                                        certificate is stale / unreachable
//   healthy                            — valid without any of those
//   pending                            — pending or renewing (in progress)
import { and, asc, desc, eq, or, sql, type SQL } from "drizzle-orm";
import type { HubDb } from "../../../../db/client";
import { certificates, instances } from "../../../../db/schema";
import { CERT_STATUSES, EXTERNAL_MANAGERS } from "../../../../protocol/certificates";

export const HEALTHS = ["healthy", "warning", "failed", "expired", "pending"] as const;
export type Health = (typeof HEALTHS)[number];
export const SORTS = ["expiry", "-expiry", "name", "instance"] as const;
export type Sort = (typeof SORTS)[number];
/** "managed", "external" (any client), or one client. */
export const SOURCES = ["managed", "external", ...EXTERNAL_MANAGERS] as const;

/** A failed deployment task in the report's detail; the LIKE skips the JSON for most rows. */
const deployFailed = sql`(${certificates.source} = 'managed' and ${certificates.detail} like '%"failed"%' and exists (select 1 from json_each(${certificates.detail}, '$.deployments') d where json_extract(d.value, '$.lastResult.outcome') = 'failed'))`;

export const healthSql = sql<Health>`case
  when ${certificates.status} = 'expired' then 'expired'
  when ${certificates.status} = 'failed' then 'failed'
  when ${certificates.status} = 'expiring' or ${certificates.served} in ('stale', 'unreachable') or ${deployFailed} then 'warning'
  when ${certificates.status} = 'valid' then 'healthy'
  else 'pending' end`;

export interface CertFilter {
  q?: string;
  instanceId?: string;
  group?: string;
  status?: (typeof CERT_STATUSES)[number];
  health?: Health;
  source?: (typeof SOURCES)[number];
  sort: Sort;
  offset: number;
}

/** Conditions, and whether they need the instances table. */
function conditions(f: CertFilter, withHealth: boolean): { where: SQL | undefined; join: boolean } {
  const conds: SQL[] = [];
  let join = false;
  if (f.instanceId) conds.push(eq(certificates.instanceId, f.instanceId));
  if (f.group) {
    conds.push(eq(instances.groupName, f.group));
    join = true;
  }
  if (f.status) conds.push(eq(certificates.status, f.status));
  if (f.source === "external") conds.push(sql`${certificates.source} <> 'managed'`);
  else if (f.source) conds.push(eq(certificates.source, f.source));
  if (f.q) {
    const p = `%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    conds.push(or(sql`${certificates.name} like ${p} escape '\\'`, sql`${certificates.domains} like ${p} escape '\\'`, sql`${instances.hostname} like ${p} escape '\\'`)!);
    join = true;
  }
  if (withHealth && f.health) conds.push(sql`${healthSql} = ${f.health}`);
  return { where: conds.length ? and(...conds) : undefined, join };
}

export async function listCertificatePage(db: HubDb, f: CertFilter, limit: number) {
  const { where, join } = conditions(f, true);
  // Unknown expiry sorts last either way; ties broken by the primary key for stable pages.
  const order =
    f.sort === "-expiry"
      ? [sql`${certificates.notAfter} is null`, desc(certificates.notAfter)]
      : f.sort === "name"
        ? [asc(certificates.name)]
        : f.sort === "instance"
          ? [asc(instances.hostname), asc(certificates.name)]
          : [sql`${certificates.notAfter} is null`, asc(certificates.notAfter)];
  const rows = await db
    .select({
      instanceId: certificates.instanceId,
      id: certificates.id,
      name: certificates.name,
      domains: certificates.domains,
      source: certificates.source,
      status: certificates.status,
      notAfter: certificates.notAfter,
      lastError: certificates.lastError,
      served: certificates.served,
      nextRenewalAt: certificates.nextRenewalAt,
      health: healthSql,
      deployFailed: sql<number>`${deployFailed}`,
      hostname: instances.hostname,
    })
    .from(certificates)
    .innerJoin(instances, eq(instances.id, certificates.instanceId))
    .where(where)
    .orderBy(...order, asc(certificates.instanceId), asc(certificates.id))
    .limit(limit)
    .offset(f.offset);
  const countQ = db.select({ n: sql<number>`count(*)` }).from(certificates);
  const [{ n }] = await (join ? countQ.innerJoin(instances, eq(instances.id, certificates.instanceId)).where(where) : countQ.where(where));
  return { rows, total: Number(n) };
}

export type CertListRow = Awaited<ReturnType<typeof listCertificatePage>>["rows"][number];

/** Counts per health for the current filter (ignoring the health filter itself). */
export async function healthSummary(db: HubDb, f: CertFilter): Promise<Record<Health, number>> {
  const { where, join } = conditions({ ...f, health: undefined }, false);
  const q = db.select({ health: healthSql, n: sql<number>`count(*)` }).from(certificates);
  const rows = await (join ? q.innerJoin(instances, eq(instances.id, certificates.instanceId)).where(where) : q.where(where)).groupBy(healthSql);
  const out: Record<Health, number> = { healthy: 0, warning: 0, failed: 0, expired: 0, pending: 0 };
  for (const r of rows) out[r.health] = Number(r.n);
  return out;
}

/** Whether any certificate exists at all (the first-run explanation instead of a table). */
export async function anyCertificate(db: HubDb): Promise<boolean> {
  const rows = await db.select({ one: sql`1` }).from(certificates).limit(1);
  return rows.length > 0;
}

export function parseDomains(json: string): string[] {
  try {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

