// The Certificates page (/certificates): every certificate on every instance, managed and
// external together, with the summary counts at the top, server-side filters (instance chip,
// group, status, health, source, text), sort by expiry (default), name or instance, and the
// OffsetPager. Until any certificate exists it says what to do instead of showing a table.
import { z } from "zod";
import { listCaAccounts } from "../../../../db/ca-accounts";
import { getInstance, listInstanceChoices } from "../../../../db/instances";
import { canWrite } from "../../../../db/roles";
import { CERT_STATUSES } from "../../../../protocol/certificates";
import { EmptyState, Flash, ListEmpty, OffsetPager, StatusBadge } from "../../components";
import { daysLeft, isoTime, qs } from "../../format";
import { Layout } from "../../layout";
import { knownGroups } from "../../scope-picker";
import { CLIENT_LABEL } from "../settings/external-managers";
import { type Ctx, detailHref, SOURCE_LABEL } from "./common";
import { anyCertificate, type CertFilter, type CertListRow, HEALTHS, healthSummary, listCertificatePage, parseDomains, SORTS, SOURCES, type Health } from "../../../../db/certificate-list";

export const PAGE_SIZE = 50;
export const TABLE_ID = "certificates-table";

const query = z.object({
  q: z.string().trim().max(200).optional().catch(undefined),
  instanceId: z.string().trim().max(64).optional().catch(undefined),
  group: z.string().trim().max(128).optional().catch(undefined),
  status: z.enum(CERT_STATUSES).optional().catch(undefined),
  health: z.enum(HEALTHS).optional().catch(undefined),
  source: z.enum(SOURCES).optional().catch(undefined),
  sort: z.enum(SORTS).catch("expiry"),
  offset: z.coerce.number().int().min(0).max(10_000_000).catch(0),
});

export function readFilter(c: Ctx): CertFilter {
  const f = query.parse(c.req.query());
  return { ...f, q: f.q || undefined, instanceId: f.instanceId || undefined, group: f.group || undefined };
}

export function listUrl(f: CertFilter, over: Partial<CertFilter> = {}): string {
  const g = { ...f, ...over };
  return `/certificates${qs({ q: g.q, instanceId: g.instanceId, group: g.group, status: g.status, health: g.health, source: g.source, sort: g.sort === "expiry" ? undefined : g.sort, offset: g.offset })}`;
}

const HEALTH_LABEL: Record<Health, string> = { healthy: "Healthy", warning: "Warning", failed: "Failed", expired: "Expired", pending: "In progress" };
const HEALTH_HINT: Record<Health, string> = {
  healthy: "valid, deployed, served",
  warning: "expiring, or a deployment task failed, or an old certificate is still served",
  failed: "the last renewal failed",
  expired: "past notAfter",
  pending: "waiting for the agent, or renewing",
};

export async function loadList(c: Ctx, f: CertFilter) {
  const { db } = c.get("deps");
  const [page, summary, instance, groups] = await Promise.all([
    listCertificatePage(db, f, PAGE_SIZE),
    healthSummary(db, f),
    f.instanceId ? getInstance(db, f.instanceId) : undefined,
    knownGroups(c, 200),
  ]);
  return { ...page, summary, instanceHost: instance?.hostname, groups };
}
type ListData = Awaited<ReturnType<typeof loadList>>;

function Summary(props: { f: CertFilter; summary: ListData["summary"] }) {
  return (
    <div class="cards cert-summary" id="certificate-summary">
      {HEALTHS.map((h) => (
        <a class={`card stat link-card health-${h}${props.f.health === h ? " selected" : ""}`} href={listUrl(props.f, { health: props.f.health === h ? undefined : h, offset: 0 })} data-health={h}>
          <span class="value">{props.summary[h]}</span>
          <span class="label">{HEALTH_LABEL[h]}</span>
          <span class="detail">{HEALTH_HINT[h]}</span>
        </a>
      ))}
    </div>
  );
}

function Toolbar(props: { f: CertFilter; data: ListData; canWrite: boolean }) {
  const { f, data } = props;
  return (
    <form method="get" action="/certificates" class="toolbar" hx-get="/certificates" hx-target={`#${TABLE_ID}`} hx-swap="outerHTML" hx-push-url="true" hx-trigger="submit, input changed delay:300ms from:find input[type=search], change from:find select">
      <input type="search" name="q" value={f.q ?? ""} placeholder="Name, domain or hostname" aria-label="Search" maxlength={200} />
      {/* No instance drop-down: a fleet can have 100k. An instance's page links here with
          ?instanceId= and that filter shows as a removable chip. */}
      {f.instanceId ? (
        <span class="chip">
          <input type="hidden" name="instanceId" value={f.instanceId} />
          Instance: {data.instanceHost ?? f.instanceId}{" "}
          <a href={listUrl(f, { instanceId: undefined, offset: 0 })} aria-label="Remove instance filter">
            ×
          </a>
        </span>
      ) : null}
      {data.groups.length ? (
        <select name="group" aria-label="Group">
          <option value="">All groups</option>
          {data.groups.map((g) => (
            <option value={g} selected={f.group === g}>
              group {g}
            </option>
          ))}
        </select>
      ) : null}
      <select name="status" aria-label="Status">
        <option value="">All statuses</option>
        {CERT_STATUSES.map((s) => (
          <option value={s} selected={f.status === s}>
            {s}
          </option>
        ))}
      </select>
      <select name="health" aria-label="Health">
        <option value="">Any health</option>
        {HEALTHS.map((h) => (
          <option value={h} selected={f.health === h}>
            {HEALTH_LABEL[h]}
          </option>
        ))}
      </select>
      <select name="source" aria-label="Source">
        <option value="">All sources</option>
        {SOURCES.map((s) => (
          <option value={s} selected={f.source === s}>
            {s === "managed" ? "Managed by certhub" : s === "external" ? "Any external client" : CLIENT_LABEL[s]}
          </option>
        ))}
      </select>
      <select name="sort" aria-label="Sort">
        <option value="expiry" selected={f.sort === "expiry"}>
          Expiry, soonest first
        </option>
        <option value="-expiry" selected={f.sort === "-expiry"}>
          Expiry, latest first
        </option>
        <option value="name" selected={f.sort === "name"}>
          Name
        </option>
        <option value="instance" selected={f.sort === "instance"}>
          Instance
        </option>
      </select>
      <button type="submit">Filter</button>
      <span class="spacer"></span>
      {props.canWrite ? (
        <a class="button primary" href={`/certificates/new${qs({ instanceId: f.instanceId })}`}>
          New certificate
        </a>
      ) : null}
    </form>
  );
}

function Row(props: { r: CertListRow; now: number }) {
  const { r, now } = props;
  const domains = parseDomains(r.domains);
  return (
    <tr data-certificate-id={r.id} data-instance-id={r.instanceId}>
      <td>
        <a href={detailHref(r)}>{r.name}</a>
        {r.lastError ? <div class="detail">{r.lastError.slice(0, 300)}</div> : null}
      </td>
      <td class="wrap">
        {domains.slice(0, 4).join(", ")}
        {domains.length > 4 ? <span class="muted"> +{domains.length - 4}</span> : null}
      </td>
      <td>
        <a href={`/instances/${r.instanceId}`}>{r.hostname}</a>
      </td>
      <td>
        {SOURCE_LABEL(r.source)}
        {r.source !== "managed" ? <div class="muted">read-only</div> : null}
      </td>
      <td>
        <StatusBadge status={r.status} />
        {r.served === "stale" || r.served === "unreachable" ? <StatusBadge status="warn" label={`served: ${r.served}`} /> : null}
        {r.deployFailed ? <StatusBadge status="warn" label="deploy warning" /> : null}
      </td>
      <td title={isoTime(r.notAfter)} class="nowrap">
        {r.notAfter ? isoTime(r.notAfter).slice(0, 10) : "—"} <span class="muted">{daysLeft(r.notAfter, now)}</span>
      </td>
    </tr>
  );
}

export function CertificatesTable(props: { f: CertFilter; data: ListData }) {
  const { f, data } = props;
  const now = Date.now();
  const filtered = !!(f.q || f.instanceId || f.group || f.status || f.health || f.source);
  const sortLink = (sort: CertFilter["sort"], label: string) => <a href={listUrl(f, { sort, offset: 0 })}>{label}</a>;
  return (
    <div id={TABLE_ID}>
      <Summary f={f} summary={data.summary} />
      {data.rows.length === 0 ? (
        <ListEmpty total={data.total} filtered={filtered} noun="certificates" firstPage={listUrl(f, { offset: 0 })} clear="/certificates" />
      ) : (
        <div class="table-scroll">
          <table id="certificates">
            <thead>
              <tr>
                <th>{sortLink("name", "Name")}</th>
                <th>Domains</th>
                <th>{sortLink("instance", "Instance")}</th>
                <th>Source</th>
                <th>Status</th>
                <th>
                  {sortLink(f.sort === "expiry" ? "-expiry" : "expiry", "Expires")} {f.sort === "expiry" ? "▲" : f.sort === "-expiry" ? "▼" : ""}
                </th>
              </tr>
            </thead>
            <tbody>
              {data.rows.map((r) => (
                <Row r={r} now={now} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <OffsetPager offset={f.offset} limit={PAGE_SIZE} total={data.total} href={(offset) => listUrl(f, { offset })} />
    </div>
  );
}

/** No certificate anywhere yet: what to do, in order. */
async function FirstRun(props: { c: Ctx }) {
  const { db } = props.c.get("deps");
  const [accounts, joined] = await Promise.all([listCaAccounts(db), listInstanceChoices(db, { limit: 1 })]);
  const write = canWrite(props.c.get("auth").roles);
  return (
    <EmptyState title="No certificates yet.">
      <p>Certificates appear here in two ways:</p>
      <ol class="steps left">
        <li>
          <strong>Define one</strong> for a joined instance, and its agent obtains and renews it over ACME.{" "}
          {accounts.length === 0 ? (
            <>
              First add a CA account under <a href="/settings/ca-accounts">Settings › Certificate Authorities</a> (Let's Encrypt needs only an email),
              then{" "}
            </>
          ) : null}
          {write ? <a href="/certificates/new">define a new certificate</a> : "an administrator can define one"}.
        </li>
        <li>
          <strong>Let agents report what is already there</strong>: certbot, acme.sh, Posh-ACME, simple-acme and win-acme certificates on joined
          hosts show up here (read-only). They are scanned by default; paths and on/off are under{" "}
          <a href="/settings/external-managers">Settings › External Certificate Managers</a>.
        </li>
      </ol>
      {joined.rows.length === 0 ? (
        <p>
          Both need a joined instance: <a href="/">the Dashboard</a> shows how to join the first one.
        </p>
      ) : null}
    </EmptyState>
  );
}

export async function ListPage(props: { c: Ctx; f: CertFilter; data: ListData; flash?: { kind: "success" | "error"; text: string } | null }) {
  const { c, f, data } = props;
  const auth = c.get("auth");
  const filtered = !!(f.q || f.instanceId || f.group || f.status || f.health || f.source);
  const none = data.total === 0 && !filtered && !(await anyCertificate(c.get("deps").db));
  return (
    <Layout title="Certificates" auth={auth} active="certificates">
      <Flash message={props.flash} />
      {none ? (
        <FirstRun c={c} />
      ) : (
        <>
          <Toolbar f={f} data={data} canWrite={canWrite(auth.roles)} />
          <CertificatesTable f={f} data={data} />
        </>
      )}
    </Layout>
  );
}
