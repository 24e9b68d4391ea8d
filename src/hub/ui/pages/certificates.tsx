// Certificates page: every certificate on every instance, sortable by expiry and filterable
// by instance, status and source. Mounted at "/" behind the session middleware.
import { Hono } from "hono";
import { z } from "zod";
import { certificateSources, listCertificates, type CertificateSort } from "../../../db/certificates";
import { getInstance } from "../../../db/instances";
import { CERT_STATUSES } from "../../../protocol/schemas";
import type { HubEnv } from "../../context";
import { Layout } from "../layout";
import { daysLeft, isoTime, qs } from "../format";
import { OffsetPager, StatusBadge } from "../components";
import { safeDomains } from "./instancePartials";

const PAGE_SIZE = 100;

const query = z.object({
  q: z.string().trim().max(200).optional().catch(undefined),
  instanceId: z.string().max(64).optional().catch(undefined),
  status: z.string().max(32).optional().catch(undefined),
  source: z.string().max(32).optional().catch(undefined),
  sort: z.enum(["expiry", "-expiry", "name", "instance"]).catch("expiry"),
  offset: z.coerce.number().int().min(0).max(10_000_000).catch(0),
});

export const certificatePages = new Hono<HubEnv>().get("/certificates", async (c) => {
  const { db } = c.get("deps");
  const auth = c.get("auth");
  const f = query.parse(c.req.query());
  const filter = { q: f.q || undefined, instanceId: f.instanceId || undefined, status: f.status || undefined, source: f.source || undefined };
  const [{ rows, total }, instance, sources] = await Promise.all([
    listCertificates(db, { ...filter, sort: f.sort as CertificateSort, offset: f.offset, limit: PAGE_SIZE }),
    filter.instanceId ? getInstance(db, filter.instanceId) : undefined,
    certificateSources(db),
  ]);
  const link = (over: Record<string, string | number | undefined>) => `/certificates${qs({ ...filter, sort: f.sort === "expiry" ? undefined : f.sort, offset: f.offset, ...over })}`;
  const now = Date.now();
  return c.html(
    <Layout title="Certificates" auth={auth} active="certificates">
      <form method="get" action="/certificates" class="toolbar">
        <input type="search" name="q" value={filter.q ?? ""} placeholder="Name, domain or hostname" aria-label="Search" />
        {/* No instance drop-down: a fleet can have 100k. The search matches hostnames; an
            instance's page links here with ?instanceId= and that filter shows as a removable chip. */}
        {filter.instanceId ? (
          <span class="chip">
            <input type="hidden" name="instanceId" value={filter.instanceId} />
            Instance: {instance?.hostname ?? filter.instanceId}{" "}
            <a href={link({ instanceId: undefined, offset: 0 })} aria-label="Remove instance filter">
              ×
            </a>
          </span>
        ) : null}
        <select name="status" aria-label="Status">
          <option value="">All statuses</option>
          {CERT_STATUSES.map((s) => (
            <option value={s} selected={filter.status === s}>
              {s}
            </option>
          ))}
        </select>
        <select name="source" aria-label="Source">
          <option value="">All sources</option>
          {sources.map((s) => (
            <option value={s} selected={filter.source === s}>
              {s}
            </option>
          ))}
        </select>
        <input type="hidden" name="sort" value={f.sort} />
        <button type="submit">Filter</button>
      </form>
      <table id="certificates">
        <thead>
          <tr>
            <th>
              <a href={link({ sort: "name", offset: 0 })}>Name</a>
            </th>
            <th>Domains</th>
            <th>
              <a href={link({ sort: "instance", offset: 0 })}>Instance</a>
            </th>
            <th>Source</th>
            <th>Status</th>
            <th>
              <a href={link({ sort: f.sort === "expiry" ? "-expiry" : "expiry", offset: 0 })}>
                Expires {f.sort === "expiry" ? "▲" : f.sort === "-expiry" ? "▼" : ""}
              </a>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colspan={6} class="empty">
                No certificates {Object.values(filter).some(Boolean) ? "match this filter" : "reported by any instance yet"}.
              </td>
            </tr>
          ) : (
            rows.map(({ cert, hostname }) => (
              <tr>
                <td>
                  {cert.name}
                  {cert.lastError ? <div class="muted">{cert.lastError}</div> : null}
                </td>
                <td>{safeDomains(cert.domains).join(", ")}</td>
                <td>
                  <a href={`/instances/${cert.instanceId}`}>{hostname}</a>
                </td>
                <td>{cert.source}</td>
                <td>
                  <StatusBadge status={cert.status} />
                </td>
                <td title={isoTime(cert.notAfter)}>
                  {cert.notAfter ? isoTime(cert.notAfter).slice(0, 10) : "—"} <span class="muted">{daysLeft(cert.notAfter, now)}</span>
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      <OffsetPager offset={f.offset} limit={PAGE_SIZE} total={total} href={(offset) => link({ offset })} />
    </Layout>,
  );
});
