// The certificate list behind the Certificates page (src/hub/ui/pages/certificates/list.tsx): one filtered, sorted, paginated query over every
// reported certificate (managed and external) plus the summary counts, each a single bounded
// statement whatever the fleet size (no query per row). Health is derived in SQL so the
// summary, the filter and the badges agree:
//   expired, failed                    — the agent's status
//   warning                            — expiring, or a deployment task failed, or the served
//                                        certificate is stale / unreachable
//   healthy                            — valid without any of those
//   pending                            — pending or renewing (in progress)
import { and, asc, desc, eq, isNotNull, isNull, or, sql, type SQL } from "drizzle-orm";
import type { HubDb } from "./client";
import { certificates, instances } from "./schema";
import { CERT_STATUSES, EXTERNAL_MANAGERS } from "../protocol/certificates";

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
    conds.push(
      or(
        sql`${certificates.name} like ${p} escape '\\'`,
        sql`${certificates.domains} like ${p} escape '\\'`,
        sql`${certificates.instanceId} in (select ${instances.id} from ${instances} where ${instances.hostname} like ${p} escape '\\')`,
      )!,
    );
  }
  if (withHealth && f.health) conds.push(sql`${healthSql} = ${f.health}`);
  return { where: conds.length ? and(...conds) : undefined, join };
}

const rowFields = {
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
};

/** The table's rowid: a stable tie-break that keeps "order by not_after" on its index. */
const rowid = sql`${certificates}.rowid`;

/**
 * One page. Sorted by expiry it walks the not_after index (no sort of the whole table):
 * dated certificates first, then those without a date (pending), as a second query only when
 * the page reaches past the dated ones.
 */
export async function listCertificatePage(db: HubDb, f: CertFilter, limit: number) {
  const { where } = conditions(f, true);
  const base = () => db.select(rowFields).from(certificates).innerJoin(instances, eq(instances.id, certificates.instanceId));
  let rows;
  // One instance's few certificates (its primary-key prefix) or a text search's few matches:
  // reading those and sorting them beats walking the whole not_after index (one random row
  // read per certificate), so the unary + keeps SQLite off that index then.
  const notAfter = f.q || f.instanceId ? sql`+${certificates.notAfter}` : certificates.notAfter;
  if (f.sort === "expiry") {
    const dated = await base()
      .where(and(where, isNotNull(certificates.notAfter)))
      .orderBy(asc(notAfter), rowid)
      .limit(limit)
      .offset(f.offset);
    rows = dated;
    if (dated.length < limit) {
      let datedTotal = f.offset + dated.length;
      if (dated.length === 0 && f.offset > 0) {
        const [{ n }] = await db.select({ n: sql<number>`count(*)` }).from(certificates).innerJoin(instances, eq(instances.id, certificates.instanceId)).where(and(where, isNotNull(certificates.notAfter)));
        datedTotal = Number(n);
      }
      const undated = await base()
        .where(and(where, isNull(certificates.notAfter)))
        .orderBy(rowid)
        .limit(limit - dated.length)
        .offset(Math.max(0, f.offset - datedTotal));
      rows = [...dated, ...undated];
    }
  } else {
    // Latest expiry first: descending puts the undated last by itself.
    const order = f.sort === "-expiry" ? [desc(notAfter), sql`${rowid} desc`] : f.sort === "name" ? [asc(certificates.name), rowid] : [asc(instances.hostname), asc(certificates.name), rowid];
    rows = await base().where(where).orderBy(...order).limit(limit).offset(f.offset);
  }
  return { rows, total: await countCertificates(db, f) };
}

// Counts scan the table. A fleet's list changes only when an agent reports (its rows are
// deleted and inserted again: either above the highest rowid, or — when they were the newest
// rows — at the top again with a new updated_at) or when a definition or instance goes
// (count(*) drops). The top row and the count are O(1) to read, so the counts are cached per
// filter until either moves (and at most 30 s, for an instance that changed its group).
// On a large fleet, where agents report all the time and a scan costs hundreds of ms (and
// holds the one database connection meanwhile), a changed list keeps serving the previous
// counts for up to 10 s: at most one scan per filter every 10 s, whatever the traffic.
const LARGE = 20_000;
const MAX_AGE_MS = 30_000;
const LARGE_STALE_MS = 10_000;
interface CountEntry {
  version: string;
  at: number;
  value: unknown;
}
const countCaches = new WeakMap<HubDb, Map<string, CountEntry>>();

async function cached<T>(db: HubDb, key: string, compute: () => Promise<T>): Promise<T> {
  let cache = countCaches.get(db);
  if (!cache) countCaches.set(db, (cache = new Map()));
  // Two statements: SQLite answers a lone count(*) and the last rowid without a scan.
  const [[n], [top]] = await Promise.all([
    db.all<{ n: number }>(sql`select count(*) as n from ${certificates}`),
    db.all<{ r: number; u: number }>(sql`select rowid as r, ${certificates.updatedAt} as u from ${certificates} order by rowid desc limit 1`),
  ]);
  const version = `${n.n}/${top?.r}/${top?.u}`;
  const hit = cache.get(key);
  const age = hit ? Date.now() - hit.at : Infinity;
  if (hit && age < MAX_AGE_MS && hit.version === version) return hit.value as T;
  if (hit && age < LARGE_STALE_MS && Number(n.n) > LARGE) return hit.value as T;
  const value = await compute();
  if (cache.size > 500) cache.clear();
  cache.set(key, { version, at: Date.now(), value });
  return value;
}

const filterKey = (f: CertFilter, health: boolean) => JSON.stringify([f.q, f.instanceId, f.group, f.status, f.source, health ? f.health : null]);

export async function countCertificates(db: HubDb, f: CertFilter): Promise<number> {
  return cached(db, `count:${filterKey(f, true)}`, async () => {
    const { where, join } = conditions(f, true);
    const countQ = db.select({ n: sql<number>`count(*)` }).from(certificates);
    const [{ n }] = await (join ? countQ.innerJoin(instances, eq(instances.id, certificates.instanceId)).where(where) : countQ.where(where));
    return Number(n);
  });
}

export type CertListRow = Awaited<ReturnType<typeof listCertificatePage>>["rows"][number];

/** Counts per health for the current filter (ignoring the health filter itself). */
export function healthSummary(db: HubDb, f: CertFilter): Promise<Record<Health, number>> {
  return cached(db, `summary:${filterKey(f, false)}`, () => computeSummary(db, f));
}

async function computeSummary(db: HubDb, f: CertFilter): Promise<Record<Health, number>> {
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

