// The principals list: filter (query string), toolbar, table with per-row actions, pager.
import type { Child } from "hono/jsx";
import { listPrincipals, type PrincipalType } from "../../../../../../db/principals";
import { canWrite, listRoles, type RoleId } from "../../../../../../db/roles";
import type { AuthInfo } from "../../../../../context";
import { FilterToolbar, ListEmpty, pageOf, Pager, PeoplePlusIcon, PostButton, StatusBadge, Time } from "../../../../components";
import { AddButton } from "../../../../dialogs";
import { qs } from "../../../../format";
import { ADD_DIALOG_ID, BASE, CHANGED_EVENT, type Ctx, DIALOG_BODY_ID, DIALOG_ID, type Principal, type Role, TABLE_ID, TYPE_LABEL } from "./common";

const PAGE_SIZE = 25;

export interface Filter {
  q?: string;
  type?: PrincipalType;
  page: number;
}

export function readFilter(c: Ctx): Filter {
  const q = (c.req.query("q") ?? "").trim().slice(0, 100) || undefined;
  const t = c.req.query("type");
  return { q, type: t === "user" || t === "service" ? t : undefined, page: pageOf(c) };
}

const listUrl = (f: Filter, page = f.page) => `${BASE}${qs({ q: f.q, type: f.type, page })}`;

export type ListData = Awaited<ReturnType<typeof loadList>>;

export async function loadList(c: Ctx, f: Filter) {
  const { db } = c.get("deps");
  const [list, roles] = await Promise.all([
    listPrincipals(db, { q: f.q, type: f.type, offset: (f.page - 1) * PAGE_SIZE, limit: PAGE_SIZE }),
    listRoles(db),
  ]);
  return { ...list, roles };
}

export function PrincipalsToolbar(props: { filter: Filter; auth: AuthInfo }) {
  const { filter } = props;
  return (
    <FilterToolbar
      action={BASE}
      table={TABLE_ID}
      q={filter.q}
      placeholder="Title, username or email"
      end={<AddButton canWrite={canWrite(props.auth.roles)} href={`${BASE}?add=1`} dialog={ADD_DIALOG_ID} label="Add user or service" noun="principals" />}
    >
      <select name="type" aria-label="Type">
        <option value="">All types</option>
        <option value="user" selected={filter.type === "user"}>
          Users
        </option>
        <option value="service" selected={filter.type === "service"}>
          Applications/Services
        </option>
      </select>
    </FilterToolbar>
  );
}

function RoleNames(props: { ids: RoleId[]; roles: Role[] }) {
  if (props.ids.length === 0) return <span class="muted">no role</span>;
  const title = (id: string) => props.roles.find((r) => r.id === id)?.title ?? id;
  return (
    <>
      {props.ids.map((id) => (
        <span class="badge role">{title(id)}</span>
      ))}
    </>
  );
}

/** A link that loads a form into the shared principal dialog (or opens it as a page without JS). */
function DialogLink(props: { href: string; label: string; title?: string; children?: Child; class?: string }) {
  return (
    <a
      href={props.href}
      class={props.class ?? "button small"}
      title={props.title}
      aria-label={props.title ?? props.label}
      hx-get={props.href}
      hx-target={`#${DIALOG_BODY_ID}`}
      hx-swap="innerHTML"
      data-open={`#${DIALOG_ID}`}
    >
      {props.children ?? props.label}
    </a>
  );
}

function RowActions(props: { p: Principal; auth: AuthInfo }) {
  const { p } = props;
  return (
    <div class="actions">
      <DialogLink href={`${BASE}/${p.id}/edit`} label="Edit" title={`Edit ${p.title}`} />
      <DialogLink href={`${BASE}/${p.id}/roles`} label="Roles" title={`Roles of ${p.title}`} class="button small icon-button">
        <PeoplePlusIcon />
      </DialogLink>
      {p.type === "user" ? <DialogLink href={`${BASE}/${p.id}/password`} label="Reset password" title={`Reset the password of ${p.title}`} /> : null}
      {p.type === "user" ? (
        <PostButton
          action={`${BASE}/${p.id}/sessions/revoke`}
          confirm={`End every session of ${p.title}? They will have to sign in again.`}
          label="Sign out everywhere"
          auth={props.auth}
        />
      ) : null}
    </div>
  );
}

export function PrincipalsTable(props: { rows: Principal[]; total: number; roles: Role[]; filter: Filter; auth: AuthInfo }) {
  const { rows, filter, auth } = props;
  const admin = canWrite(auth.roles);
  return (
    // Reloads itself (same filter and page) when a dialog reports a change.
    <div id={TABLE_ID} hx-get={listUrl(filter)} hx-trigger={`${CHANGED_EVENT} from:body`} hx-target="this" hx-swap="outerHTML">
      {rows.length === 0 ? (
        <ListEmpty total={props.total} filtered={!!(filter.q || filter.type)} noun="security principals" firstPage={listUrl(filter, 1)} clear={BASE} />
      ) : (
        <table id="principals">
          <thead>
            <tr>
              <th>Type</th>
              <th>Title</th>
              <th>Username</th>
              <th>Roles</th>
              <th>Status</th>
              <th>Last sign-in</th>
              {admin ? <th>Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr data-principal-id={p.id}>
                <td>{TYPE_LABEL[p.type]}</td>
                <td>
                  {p.title}
                  {p.id === auth.principalId ? <span class="badge"> you</span> : null}
                  {p.description ? <div class="muted">{p.description}</div> : null}
                  <div class="muted mono">{p.id}</div>
                </td>
                <td>{p.username ? <span class="mono">{p.username}</span> : <span class="muted">—</span>}</td>
                <td>
                  <RoleNames ids={p.roles} roles={props.roles} />
                </td>
                <td>
                  {p.disabled ? (
                    <>
                      <StatusBadge status="disabled" />
                      <div class="muted">{p.type === "user" ? "No sign-in, no API tokens, no new joins" : "No API tokens, no new joins"}; joined instances keep working</div>
                    </>
                  ) : (
                    <StatusBadge status="active" label="enabled" />
                  )}
                </td>
                <td>{p.type === "user" ? <Time ts={p.lastLoginAt} /> : <span class="muted">—</span>}</td>
                {admin ? (
                  <td>
                    <RowActions p={p} auth={auth} />
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={filter.page} pageSize={PAGE_SIZE} total={props.total} href={(p) => listUrl(filter, p)} target={TABLE_ID} />
    </div>
  );
}
