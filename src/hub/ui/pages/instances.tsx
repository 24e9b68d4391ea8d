// Instances pages: the fleet list (/instances) and one instance (/instances/:id) with its
// facts, commands, certificates and admin actions. Tables refresh by htmx polling every 5 s.
// Mounted at "/" behind the session middleware (which also checks CSRF on POSTs).
import { Hono, type Context } from "hono";
import { z } from "zod";
import { listCommands } from "../../../db/commands";
import { parseJsonBounded } from "../../../lib/json-bounded";
import { getInstanceView, INSTANCE_STATUSES, listInstances, type ListInstancesOptions } from "../../../db/instances";
import { canWrite } from "../../../db/roles";
import { COMMAND_TYPES, type CommandType } from "../../../protocol/schemas";
import type { AuthInfo, HubEnv } from "../../context";
import type { ActionResult } from "../../fleet";
import { instanceView, type InstanceView } from "../../fleet/view";
import { actorOf } from "../../middleware/auth";
import { Layout } from "../layout";
import { qs } from "../format";
import { externalManagersView } from "../../core/external-managers";
import { effectiveSettings } from "../../core/settings";
import { CommandsTable, InstanceFacts, InstancesTable, type ListFilter } from "./instancePartials";
import { EffectiveSettings, ExternalManagersStatus, InstanceCertificatesSection, instanceCertificates } from "./instance-certificates";

type Ctx = Context<HubEnv>;
const PAGE_SIZE = 50;

const listQuery = z.object({
  q: z.string().trim().max(200).optional().catch(undefined),
  status: z.enum(INSTANCE_STATUSES as ["online", "offline", "revoked", "conflict"]).optional().catch(undefined),
  offset: z.coerce.number().int().min(0).max(10_000_000).catch(0),
});

function readFilter(c: Ctx): ListFilter {
  const q = listQuery.parse(c.req.query());
  return { q: q.q || undefined, status: q.status, offset: q.offset, limit: PAGE_SIZE };
}

async function loadList(c: Ctx, filter: ListFilter) {
  const { db, fleet } = c.get("deps");
  const { rows, total } = await listInstances(db, { ...filter, status: filter.status as ListInstancesOptions["status"] });
  const now = Date.now();
  return { rows: rows.map((r) => instanceView(r, fleet, now)), total };
}

function Csrf(props: { auth: AuthInfo }) {
  return <input type="hidden" name="_csrf" value={props.auth.csrfToken ?? ""} />;
}

function ActionButton(props: { id: string; action: string; label: string; confirm: string; auth: AuthInfo; danger?: boolean; disabled?: string }) {
  const url = `/instances/${props.id}/${props.action}`;
  return (
    <form method="post" action={url} hx-post={url} hx-confirm={props.confirm}>
      <Csrf auth={props.auth} />
      <button type="submit" class={props.danger ? "danger" : ""} disabled={Boolean(props.disabled)} title={props.disabled ?? ""}>
        {props.label}
      </button>
    </form>
  );
}

function Actions(props: { i: InstanceView; auth: AuthInfo }) {
  const { i, auth } = props;
  if (!canWrite(auth.roles)) return null;
  return (
    <div class="actions" id="instance-actions">
      <ActionButton
        id={i.id}
        action="renew-now"
        label="Renew now"
        confirm="Renew this instance's certificates now?"
        auth={auth}
        disabled={i.certificateCount === 0 ? "This instance has no certificates yet" : i.state === "revoked" ? "Instance is revoked" : undefined}
      />
      {i.state === "revoked" ? (
        <ActionButton id={i.id} action="reinstate" label="Reinstate" confirm="Give this instance hub access again?" auth={auth} />
      ) : (
        <ActionButton id={i.id} action="revoke" label="Revoke" confirm="Cut this instance off? Its next request to the hub will be refused." auth={auth} danger />
      )}
      <ActionButton
        id={i.id}
        action="reset-identity"
        label="Reset identity"
        confirm="Reset this identity? Every agent holding it re-keys: the first keeps this instance, copies join as new instances."
        auth={auth}
        disabled={i.state === "revoked" ? "Reinstate the instance first" : undefined}
      />
      <ActionButton id={i.id} action="remove" label="Remove" confirm="Remove this instance from the hub? The agent must join again to come back." auth={auth} danger />
    </div>
  );
}

function Flash(props: { c: Ctx }) {
  const done = props.c.req.query("done");
  const error = props.c.req.query("error");
  if (error) return <p class="alert error" role="alert">{error.slice(0, 300)}</p>;
  if (done) return <p class="alert success" role="status">{done.slice(0, 300)}</p>;
  return null;
}

async function detailParts(c: Ctx, id: string) {
  const { db, fleet } = c.get("deps");
  const row = await getInstanceView(db, id);
  if (!row) return null;
  const facts = { id, groupName: row.instance.groupName };
  const [commands, certs, settings, managers] = await Promise.all([
    listCommands(db, id, 25),
    instanceCertificates(db, id),
    effectiveSettings(c.get("deps"), facts),
    externalManagersView(c.get("deps"), facts),
  ]);
  return { i: instanceView(row, fleet), commands, certs, settings, managers };
}

function Live(props: { c: Ctx; parts: NonNullable<Awaited<ReturnType<typeof detailParts>>>; auth: AuthInfo }) {
  const { c } = props;
  const { i, commands, certs, settings, managers } = props.parts;
  const usable = i.state !== "revoked" && i.joiningKey?.state !== "revoked";
  return (
    <>
      <div class="card">
        <InstanceFacts i={i} />
      </div>
      <Actions i={i} auth={props.auth} />
      <h2>Recent commands</h2>
      <CommandsTable commands={commands} />
      <InstanceCertificatesSection c={c} instanceId={i.id} list={certs} usable={usable} />
      <ExternalManagersStatus c={c} instanceId={i.id} managers={managers} usable={usable} />
      <EffectiveSettings settings={settings} instanceId={i.id} />
    </>
  );
}

function QueueCommandForm(props: { id: string; auth: AuthInfo }) {
  if (!canWrite(props.auth.roles)) return null;
  const url = `/instances/${props.id}/commands`;
  return (
    <details class="card">
      <summary>Queue a command</summary>
      <form method="post" action={url} hx-post={url}>
        <Csrf auth={props.auth} />
        <div class="form-row">
          <label>
            Command
            <select name="type">
              {COMMAND_TYPES.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
          <label>
            Payload (JSON, optional)
            <textarea name="payload" rows={3} placeholder='{"values": {"key": "value"}} or {"script": "…"}'></textarea>
          </label>
        </div>
        <p class="muted">run-script is refused by agents whose host admin did not start them with --allow-scripts.</p>
        <button type="submit" class="primary">Queue</button>
      </form>
    </details>
  );
}

/** After an action: htmx follows HX-Redirect, a plain form post gets a 303. */
function afterAction(c: Ctx, to: string, outcome: { done?: string; error?: string }) {
  const url = `${to}${qs({ done: outcome.done, error: outcome.error })}`;
  if (c.req.header("hx-request")) {
    c.header("HX-Redirect", url);
    return c.body(null, 204);
  }
  return c.redirect(url, 303);
}

async function runAction(c: Ctx, fn: (id: string) => Promise<ActionResult>, done: string, redirectToList = false) {
  const id = c.req.param("id") ?? "";
  const res = await fn(id);
  if (!res.ok) return afterAction(c, res.status === 404 ? "/instances" : `/instances/${encodeURIComponent(id)}`, { error: res.error });
  return afterAction(c, redirectToList ? "/instances" : `/instances/${encodeURIComponent(id)}`, { done });
}

async function queueFromPage(c: Ctx, type: CommandType, payload: unknown) {
  const { db, fleet } = c.get("deps");
  const id = c.req.param("id") ?? "";
  const row = await getInstanceView(db, id);
  if (!row) return afterAction(c, "/instances", { error: "instance not found" });
  if (row.instance.state === "revoked") return afterAction(c, `/instances/${encodeURIComponent(id)}`, { error: "instance is revoked; reinstate it first" });
  const cmd = await fleet.queueCommand(id, type, payload, actorOf(c));
  return afterAction(c, `/instances/${encodeURIComponent(id)}`, { done: `queued ${type} (#${cmd?.seq})` });
}

export const instancePages = new Hono<HubEnv>()
  .get("/instances", async (c) => {
    const auth = c.get("auth");
    const filter = readFilter(c);
    const { rows, total } = await loadList(c, filter);
    const tableUrl = `/instances/table${qs({ q: filter.q, status: filter.status, offset: filter.offset })}`;
    return c.html(
      <Layout title="Instances" auth={auth} active="instances">
        <Flash c={c} />
        <form method="get" action="/instances" class="toolbar" id="instance-filter">
          <input type="search" name="q" value={filter.q ?? ""} placeholder="Hostname, id, group or key" aria-label="Search" />
          <select name="status" aria-label="Status">
            <option value="">All statuses</option>
            {INSTANCE_STATUSES.map((s) => (
              <option value={s} selected={filter.status === s}>
                {s}
              </option>
            ))}
          </select>
          <button type="submit">Filter</button>
          <span class="spacer"></span>
          <span class="muted">Live: refreshes every 5 s</span>
        </form>
        <div id="instances-table" hx-get={tableUrl} hx-trigger="every 5s" hx-swap="innerHTML">
          <InstancesTable rows={rows} total={total} filter={filter} />
        </div>
      </Layout>,
    );
  })
  .get("/instances/table", async (c) => {
    const filter = readFilter(c);
    const { rows, total } = await loadList(c, filter);
    return c.html(<InstancesTable rows={rows} total={total} filter={filter} />);
  })
  .get("/instances/:id", async (c) => {
    const auth = c.get("auth");
    const id = c.req.param("id");
    const parts = await detailParts(c, id);
    if (!parts) {
      return c.html(
        <Layout title="Instance not found" auth={auth} active="instances">
          <p class="alert error">No instance with id {id}. It may have been removed or have left the hub.</p>
          <p>
            <a href="/instances">Back to Instances</a>
          </p>
        </Layout>,
        404,
      );
    }
    return c.html(
      <Layout title={parts.i.hostname} auth={auth} active="instances">
        <p>
          <a href="/instances">‹ Instances</a>
        </p>
        <Flash c={c} />
        <div id="instance-live" hx-get={`/instances/${id}/live`} hx-trigger="every 5s" hx-swap="innerHTML">
          <Live c={c} parts={parts} auth={auth} />
        </div>
        <QueueCommandForm id={id} auth={auth} />
      </Layout>,
    );
  })
  .get("/instances/:id/live", async (c) => {
    const parts = await detailParts(c, c.req.param("id"));
    if (!parts) {
      c.header("HX-Redirect", "/instances");
      return c.body(null, 204);
    }
    return c.html(<Live c={c} parts={parts} auth={c.get("auth")} />);
  })
  .post("/instances/:id/renew-now", (c) => queueFromPage(c, "renew-now", {}))
  .post("/instances/:id/revoke", (c) => runAction(c, (id) => c.get("deps").fleet.revokeInstance(id, actorOf(c)), "Instance revoked: its next request is refused."))
  .post("/instances/:id/reinstate", (c) => runAction(c, (id) => c.get("deps").fleet.reinstateInstance(id, actorOf(c)), "Instance reinstated."))
  .post("/instances/:id/reset-identity", (c) =>
    runAction(c, (id) => c.get("deps").fleet.resetIdentity(id, actorOf(c)), "Identity reset requested: agents re-key at their next contact."),
  )
  .post("/instances/:id/remove", (c) => runAction(c, (id) => c.get("deps").fleet.removeInstance(id, actorOf(c)), "Instance removed.", true))
  .post("/instances/:id/commands", async (c) => {
    const id = c.req.param("id");
    const body = await c.req.parseBody();
    const type = String(body.type ?? "");
    if (!(COMMAND_TYPES as readonly string[]).includes(type)) return afterAction(c, `/instances/${encodeURIComponent(id)}`, { error: `unknown command type "${type.slice(0, 40)}"` });
    let payload: unknown = {};
    const raw = typeof body.payload === "string" ? body.payload.trim() : "";
    if (raw) {
      // Depth-limited: a deeply nested payload parses but cannot be stored (stack overflow).
      const parsed = parseJsonBounded(raw);
      if (!parsed.ok) return afterAction(c, `/instances/${encodeURIComponent(id)}`, { error: `payload is not valid JSON (${parsed.error})` });
      payload = parsed.value;
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return afterAction(c, `/instances/${encodeURIComponent(id)}`, { error: "payload must be a JSON object" });
    }
    return queueFromPage(c, type as CommandType, payload);
  });
