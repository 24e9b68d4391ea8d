// Fragments of the Instances pages that htmx re-fetches every few seconds.
import type { CommandRow } from "../../../db/commands";
import type { InstanceView } from "../../fleet/view";
import { OffsetPager, StatusBadge } from "../components";
import { ago, isoTime, qs } from "../format";

export interface ListFilter {
  q?: string;
  status?: string;
  offset: number;
  limit: number;
}

function VersionCell(props: { i: InstanceView }) {
  const { i } = props;
  return (
    <>
      {i.version}{" "}
      {i.versionSkew !== "same" ? (
        <span class="badge warn" title={`hub runs ${i.hubVersion}`}>
          {i.versionSkew === "older" ? "outdated" : "newer than hub"}
        </span>
      ) : null}
    </>
  );
}

export function InstancesTable(props: { rows: InstanceView[]; total: number; filter: ListFilter }) {
  const { rows, total, filter } = props;
  const now = Date.now();
  const page = (offset: number) => `/instances${qs({ q: filter.q, status: filter.status, offset })}`;
  return (
    <>
      <table id="instances">
        <thead>
          <tr>
            <th>Hostname</th>
            <th>OS</th>
            <th>Version</th>
            <th>Status</th>
            <th>Last seen</th>
            <th>Joining key / group</th>
            <th>Certificates</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colspan={7} class="empty">
                {filter.q || filter.status ? (
                  "No instances match this filter."
                ) : (
                  <>
                    No instances have joined yet. <a href="/#join">Join your first instance</a> with the commands on the Dashboard.
                  </>
                )}
              </td>
            </tr>
          ) : (
            rows.map((i) => (
              <tr data-instance-id={i.id}>
                <td class="wrap">
                  <a href={`/instances/${i.id}`}>{i.displayName ?? i.hostname}</a>
                  {i.displayName ? <div class="muted">{i.hostname}</div> : null}
                  {i.labels.map((l) => (
                    <span class="badge label">{l}</span>
                  ))}
                  <div class="muted mono">{i.id}</div>
                </td>
                <td>
                  {i.os} <span class="muted">{i.arch}</span>
                </td>
                <td>
                  <VersionCell i={i} />
                </td>
                <td>
                  <StatusBadge status={i.status} />
                  {i.identityResetPending ? <div class="muted">reset pending</div> : null}
                </td>
                <td title={isoTime(i.lastSeenAt)}>{ago(i.lastSeenAt, now)}</td>
                <td>
                  {i.joiningKey ? (
                    <>
                      {i.joiningKey.title ?? "(deleted key)"}
                      <div class="muted mono">{i.joiningKey.clientId}</div>
                      {i.group ? <div class="muted">group {i.group}</div> : null}
                    </>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td>
                  <a href={`/certificates${qs({ instanceId: i.id })}`}>{i.certificateCount}</a>
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      <OffsetPager offset={filter.offset} limit={filter.limit} total={total} href={page} />
    </>
  );
}

function commandResult(c: CommandRow): string {
  if (!c.result) return "";
  try {
    const r = JSON.parse(c.result) as { message?: string };
    return r.message ?? c.result;
  } catch {
    return c.result;
  }
}

export function CommandsTable(props: { commands: CommandRow[] }) {
  if (props.commands.length === 0) return <p class="muted">No commands yet.</p>;
  return (
    <table id="commands">
      <thead>
        <tr>
          <th>#</th>
          <th>Command</th>
          <th>Status</th>
          <th>Result</th>
          <th>Queued</th>
          <th>By</th>
        </tr>
      </thead>
      <tbody>
        {props.commands.map((c) => (
          <tr data-command-id={c.id}>
            <td class="mono">{c.seq}</td>
            <td class="mono">{c.type}</td>
            <td>
              <span class={`badge ${c.status === "succeeded" ? "success" : c.status === "failed" || c.status === "rejected" ? "failure" : ""}`}>{c.status}</span>
            </td>
            <td>{commandResult(c)}</td>
            <td title={isoTime(c.createdAt)}>{ago(c.createdAt)}</td>
            <td>{c.createdBy ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function InstanceFacts(props: { i: InstanceView }) {
  const { i } = props;
  return (
    <dl class="facts" id="instance-facts">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={i.status} />
        {i.state === "revoked" ? <span class="muted"> (instance revoked)</span> : null}
        {i.joiningKey?.state === "revoked" ? <span class="muted"> (cut off: its joining key was revoked)</span> : null}
      </dd>
      <dt>Identity</dt>
      <dd>
        {i.identityConflict ? (
          <span class="badge conflict">conflict: two processes present this identity</span>
        ) : (
          "ok"
        )}
        {i.identityResetPending ? <span class="muted"> — reset pending: the agents re-key at their next contact</span> : null}
        {i.clonedFromId ? (
          <div class="muted">
            re-joined from a copy of <a href={`/instances/${i.clonedFromId}`}>{i.clonedFromId}</a>
          </div>
        ) : null}
      </dd>
      <dt>Last seen</dt>
      <dd title={isoTime(i.lastSeenAt)}>
        {ago(i.lastSeenAt)} {i.lastIp ? <span class="muted">from {i.lastIp}</span> : null}
      </dd>
      <dt>Hostname</dt>
      <dd>{i.hostname}</dd>
      <dt>OS / arch</dt>
      <dd>
        {i.os} / {i.arch}
      </dd>
      <dt>Agent version</dt>
      <dd>
        <VersionCell i={i} />
      </dd>
      <dt>Joining key</dt>
      <dd>
        {i.joiningKey ? (
          <>
            {i.joiningKey.title} <span class="muted mono">{i.joiningKey.clientId}</span>{" "}
            {i.joiningKey.state && i.joiningKey.state !== "active" ? <span class={`badge ${i.joiningKey.state}`}>{i.joiningKey.state}</span> : null}
          </>
        ) : (
          "—"
        )}
      </dd>
      <dt>Group</dt>
      <dd>{i.group ?? "—"}</dd>
      <dt>Joined</dt>
      <dd>{isoTime(i.joinedAt)}</dd>
      <dt>Sync interval</dt>
      <dd>{i.syncIntervalSeconds} s (offline after 3 missed)</dd>
      <dt>Pending commands</dt>
      <dd>{i.pendingCommands}</dd>
      <dt>Instance id</dt>
      <dd class="mono">{i.id}</dd>
    </dl>
  );
}
