// The token list: filter (query string), toolbar, table with retire/revoke, pager.
import { listApiTokens, tokenStatus } from "../../../../../../db/api-tokens";
import { canWrite, listRoles, ROLE_IDS, type RoleId } from "../../../../../../db/roles";
import { countJoinedWith } from "../../../../../../db/instances";
import type { AuthInfo } from "../../../../../context";
import { FilterToolbar, ListEmpty, pageOf, Pager, PostButton, StatusBadge, Time } from "../../../../components";
import { AddButton } from "../../../../dialogs";
import { qs } from "../../../../format";
import { ADD_DIALOG_ID, BASE, CHANGED_EVENT, type Ctx, type Role, roleTitle, TABLE_ID } from "./common";

type TokenRow = Awaited<ReturnType<typeof listApiTokens>>["rows"][number];

const PAGE_SIZE = 25;

export interface Filter {
  q?: string;
  role?: RoleId;
  /** Revoked keys stay listed for the record; this leaves them out. */
  hideRevoked?: boolean;
  page: number;
}

export function readFilter(c: Ctx): Filter {
  const q = (c.req.query("q") ?? "").trim().slice(0, 100) || undefined;
  const role = c.req.query("role");
  const hideRevoked = c.req.query("revoked") === "hide" || undefined;
  return { q, role: (ROLE_IDS as string[]).includes(role ?? "") ? (role as RoleId) : undefined, hideRevoked, page: pageOf(c) };
}

const listUrl = (f: Filter, page = f.page) => `${BASE}${qs({ q: f.q, role: f.role, revoked: f.hideRevoked ? "hide" : undefined, page })}`;

export type ListData = Awaited<ReturnType<typeof loadList>>;

export async function loadList(c: Ctx, f: Filter) {
  const { db } = c.get("deps");
  const [list, roles] = await Promise.all([listApiTokens(db, { q: f.q, roleId: f.role, hideRevoked: f.hideRevoked, offset: (f.page - 1) * PAGE_SIZE, limit: PAGE_SIZE }), listRoles(db)]);
  // How many instances joined with each listed key: the cost of revoking it.
  const joined = await countJoinedWith(db, list.rows.map((r) => r.id));
  return { ...list, roles, joined };
}

export function TokensToolbar(props: { filter: Filter; roles: Role[]; auth: AuthInfo }) {
  const { filter } = props;
  return (
    <FilterToolbar
      action={BASE}
      table={TABLE_ID}
      q={filter.q}
      placeholder="Title, client ID or group"
      end={<AddButton canWrite={canWrite(props.auth.roles)} href={`${BASE}?add=1`} dialog={ADD_DIALOG_ID} label="Add joining key / API token" noun="tokens" />}
    >
      <select name="role" aria-label="Scoped role">
        <option value="">All roles</option>
        {props.roles.map((r) => (
          <option value={r.id} selected={filter.role === r.id}>
            {r.title}
          </option>
        ))}
      </select>
      <label class="inline check">
        <input type="checkbox" name="revoked" value="hide" checked={filter.hideRevoked} /> Hide revoked
      </label>
    </FilterToolbar>
  );
}

function TokenActions(props: { t: TokenRow; joined: number; auth: AuthInfo }) {
  const { t, joined } = props;
  const status = tokenStatus(t);
  if (status === "revoked") return <span class="muted">—</span>;
  // The answer is a flash message; the table refreshes itself on the event that comes with it.
  const action = (name: "retire" | "revoke", label: string, confirm: string, danger = false) => (
    <PostButton action={`${BASE}/${t.id}/${name}`} confirm={confirm} label={label} auth={props.auth} class={danger ? "small danger" : "small"} target="#flash" swap="outerHTML" />
  );
  const cut = joined === 1 ? "the 1 instance that joined with it" : `every instance that joined with it (${joined} now)`;
  return (
    <div class="actions">
      {t.state === "active" && status !== "expired" ? action("retire", "Retire", `Retire “${t.title}”? No new instance can join with it; instances already joined keep working.`) : null}
      {action("revoke", "Revoke", `Revoke “${t.title}”? The key stops working at once and ${cut} is cut off from the hub. This cannot be undone.`, true)}
    </div>
  );
}

export function TokensTable(props: { data: ListData; filter: Filter; auth: AuthInfo }) {
  const { data, filter, auth } = props;
  const admin = canWrite(auth.roles);
  return (
    // Reloads itself (same filter and page) after a create, retire or revoke.
    <div id={TABLE_ID} hx-get={listUrl(filter)} hx-trigger={`${CHANGED_EVENT} from:body`} hx-target="this" hx-swap="outerHTML">
      {data.rows.length === 0 ? (
        <ListEmpty total={data.total} filtered={!!(filter.q || filter.role || filter.hideRevoked)} noun="API tokens" firstPage={listUrl(filter, 1)} clear={BASE}>
          <p>Instances need a joining key (scoped role “Management Hub Managed Instance”) to join this hub. Use “Add joining key / API token” to create one.</p>
        </ListEmpty>
      ) : (
        <div class="table-scroll">
        <table id="tokens">
          <thead>
            <tr>
              <th>Title</th>
              <th>Client ID</th>
              <th>Principal</th>
              <th>Scoped role</th>
              <th>Status</th>
              <th>Expires</th>
              <th>Uses</th>
              <th>Last used</th>
              <th>Instances</th>
              {admin ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {data.rows.map((t) => {
              const status = tokenStatus(t);
              const joined = data.joined.get(t.id) ?? 0;
              return (
                <tr data-token-id={t.id} data-client-id={t.clientId}>
                  <td>
                    {t.title}
                    {t.groupName ? <div class="muted">group {t.groupName}</div> : null}
                  </td>
                  <td class="mono">{t.clientId}</td>
                  <td>{t.principalTitle}</td>
                  <td>{roleTitle(data.roles, t.roleId)}</td>
                  <td>
                    <StatusBadge status={status} />
                  </td>
                  <td>
                    <Time ts={t.expiresAt} never="never" />
                  </td>
                  <td class="nowrap">
                    {t.useCount} / {t.maxUses ?? "∞"}
                  </td>
                  <td>
                    <Time ts={t.lastUsedAt} />
                    {t.lastUsedIp ? <div class="muted mono">{t.lastUsedIp}</div> : null}
                    {t.lastInstanceId ? (
                      <div>
                        <a href={`/instances/${t.lastInstanceId}`} class="mono">
                          {t.lastInstanceId}
                        </a>
                      </div>
                    ) : null}
                  </td>
                  <td>{joined ? <a href={`/instances${qs({ q: t.clientId })}`}>{joined}</a> : <span class="muted">0</span>}</td>
                  {admin ? (
                    <td>
                      <TokenActions t={t} joined={joined} auth={auth} />
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
        </div>
      )}
      <Pager page={filter.page} pageSize={PAGE_SIZE} total={data.total} href={(p) => listUrl(filter, p)} target={TABLE_ID} />
    </div>
  );
}
