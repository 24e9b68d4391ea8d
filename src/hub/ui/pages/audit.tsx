// Audit log (/audit): every admin action and sign-in, newest first. Pages go "older" by id
// (?before=<id>), which stays stable while new entries arrive.
import { auditActionLabel } from "../audit-labels";
import { Hono, type Context } from "hono";
import { listAudit } from "../../../db/audit";
import type { HubEnv } from "../../context";
import { EmptyState, FilterToolbar, StatusBadge, Time, varyOnHtmx, wantsPartial } from "../components";
import { qs } from "../format";
import { Layout } from "../layout";

type Ctx = Context<HubEnv>;
type Entry = Awaited<ReturnType<typeof listAudit>>["rows"][number];

const BASE = "/audit";
const TABLE_ID = "audit-table";
const PAGE_SIZE = 50;

interface Filter {
  q?: string;
  before?: number;
}

function readFilter(c: Ctx): Filter {
  const q = (c.req.query("q") ?? "").trim().slice(0, 100) || undefined;
  const before = Number.parseInt(c.req.query("before") ?? "", 10);
  return { q, before: Number.isSafeInteger(before) && before > 0 ? before : undefined };
}

/** Detail JSON as short "key: value" pairs; the raw JSON stays in the tooltip. */
function Detail(props: { json: string | null }) {
  if (!props.json) return null;
  let pairs: string[];
  try {
    const v = JSON.parse(props.json) as Record<string, unknown>;
    pairs = Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined && x !== "")
      .map(([k, x]) => `${k}: ${typeof x === "string" ? x : JSON.stringify(x)}`);
  } catch {
    pairs = [props.json];
  }
  const text = pairs.join(" · ");
  return (
    <span class="detail" title={props.json}>
      {text.length > 160 ? `${text.slice(0, 160)}…` : text}
    </span>
  );
}

function AuditTable(props: { rows: Entry[]; more: boolean; filter: Filter }) {
  const { rows, more, filter } = props;
  const older = more && rows.length ? `${BASE}${qs({ q: filter.q, before: rows[rows.length - 1].id })}` : undefined;
  const newest = `${BASE}${qs({ q: filter.q })}`;
  const link = (href: string, label: string) => (
    <a href={href} hx-get={href} hx-target={`#${TABLE_ID}`} hx-swap="outerHTML" hx-push-url="true">
      {label}
    </a>
  );
  return (
    <div id={TABLE_ID}>
      {rows.length === 0 ? (
        <EmptyState title={filter.q ? "No audit entries match this filter." : "The audit log is empty."}>
          {filter.q ? <p>{link(BASE, "Clear the filter")}</p> : null}
        </EmptyState>
      ) : (
        <table id="audit">
          <thead>
            <tr>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Target</th>
              <th>Outcome</th>
              <th>IP</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr data-audit-id={e.id}>
                <td>
                  <Time ts={e.at} />
                </td>
                <td>{e.actorLabel}</td>
                <td>
                  {auditActionLabel(e.action)} <div class="muted mono">{e.action}</div>
                </td>
                <td>
                  {e.targetId ? (
                    <>
                      <span class="muted">{e.targetType}</span> <span class="mono">{e.targetId}</span>
                    </>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td>
                  <StatusBadge status={e.outcome} />
                </td>
                <td class="mono">{e.ip ?? ""}</td>
                <td>
                  <Detail json={e.detail} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {filter.before ? link(newest, "« Newest") : null}
        {older ? link(older, "Older ›") : <span class="muted">{rows.length ? "End of the log." : ""}</span>}
      </nav>
    </div>
  );
}

export const auditPages = new Hono<HubEnv>().get(BASE, async (c) => {
  const filter = readFilter(c);
  const { rows, more } = await listAudit(c.get("deps").db, { q: filter.q, before: filter.before, limit: PAGE_SIZE });
  varyOnHtmx(c);
  if (wantsPartial(c, TABLE_ID)) return c.html(<AuditTable rows={rows} more={more} filter={filter} />);
  return c.html(
    <Layout title="Audit Log" auth={c.get("auth")} active="audit">
      <p class="muted">Every admin action and every sign-in attempt, newest first. Search matches action, actor and target.</p>
      <FilterToolbar action={BASE} table={TABLE_ID} q={filter.q} placeholder="e.g. token.revoke, admin, login.failure" />
      <AuditTable rows={rows} more={more} filter={filter} />
    </Layout>,
  );
});
