// Instances pages: the fleet list (/instances) and one instance (/instances/:id) with its
// facts, commands, certificates and admin actions. Tables refresh by htmx polling every 5 s.
// Mounted at "/" behind the session middleware (which also checks CSRF on POSTs).
import { Hono, type Context } from "hono";
import { z } from "zod";
import { listCommands } from "../../../db/commands";
import { parseJsonBounded } from "../../../lib/json-bounded";
import { getInstanceView, INSTANCE_STATUSES, listInstances, type ListInstancesOptions } from "../../../db/instances";
import { canWrite } from "../../../db/roles";
import type { CommandType } from "../../../protocol";
import type { Child } from "hono/jsx";
import { RuleError } from "../../core/errors";
import type { ExternalManagerView } from "../../core/external-managers";
import { cutOffReason, PAYLOAD_EXAMPLES } from "../../core/command-rules";
import { queueCommand, reinstateInstance, removeInstance, renameInstance, resetIdentity, revokeInstance } from "../../core/instances";
import { awaitingReconnect } from "../../fleet/status";
import { redirectWithFlash, takeFlash } from "../flash";
import { sentence } from "../rule-errors";
import type { AuthInfo, HubEnv } from "../../context";
import { instanceView, type InstanceView } from "../../fleet/view";
import { actorOf } from "../../middleware/auth";
import { Layout } from "../layout";
import { qs } from "../format";
import { externalManagersView } from "../../core/external-managers";
import { effectiveSettings } from "../../core/settings";
import { CommandsTable, InstanceFacts, InstancesTable, type ListFilter } from "./instance-partials";
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

/** Why the instance cannot be reached, and the way back (#4): shown above its actions. */
function CutOffNotice(props: { i: InstanceView }) {
  const { i } = props;
  const reason = cutOffReason(i, i.joiningKey ? { state: i.joiningKey.state, clientId: i.joiningKey.clientId, title: i.joiningKey.title } : null);
  if (reason) return <p class="alert error" id="cut-off" role="status">This instance is {reason}</p>;
  if (awaitingReconnect(i)) {
    return (
      <p class="alert" id="awaiting-reconnect" role="status">
        Reinstated — waiting for the agent to sync again (within seconds when it runs). Until then it is shown as offline.
      </p>
    );
  }
  return null;
}

function Actions(props: { i: InstanceView; auth: AuthInfo }) {
  const { i, auth } = props;
  if (!canWrite(auth.roles)) return null;
  if (i.joiningKey?.state === "revoked") {
    // Nothing else can reach it: revoke/reinstate/reset identity would only pretend to act.
    return (
      <div class="actions" id="instance-actions">
        <ActionButton id={i.id} action="remove" label="Remove instance" confirm="Remove this instance from the hub? Join the agent again with another joining key to bring the host back." auth={auth} danger />
      </div>
    );
  }
  return (
    <div class="actions" id="instance-actions">
      {i.certificateCount > 0 && i.state !== "revoked" ? (
        <ActionButton id={i.id} action="renew-now" label="Renew all certificates now" confirm="Renew every certificate of this instance now?" auth={auth} />
      ) : null}
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
      <p class="explain" id="actions-explained">
        <strong>Revoke</strong> cuts this host off until you reinstate it. <strong>Reset identity</strong> makes the agent create a new key pair —
        for a copied data dir (two hosts with one identity). <strong>Remove</strong> forgets the instance; its agent must join again.
      </p>
    </div>
  );
}

/** The outcome of the last action, from the flash cookie (flash.ts); words in the URL are never shown. */
function Flash(props: { c: Ctx }) {
  const m = takeFlash(props.c);
  if (!m) return null;
  return m.kind === "error" ? <p class="alert error" role="alert">{m.text}</p> : <p class="alert success" role="status">{m.text}</p>;
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
      <h2>Recent commands</h2>
      <CommandsTable commands={commands} />
      <InstanceCertificatesSection c={c} instanceId={i.id} list={certs} usable={usable} />
      <ExternalManagersStatus c={c} instanceId={i.id} managers={managers} usable={usable} />
      <EffectiveSettings settings={settings} instanceId={i.id} />
    </>
  );
}

/** What the generic form offers, in words; per-certificate commands live on certificate pages. */
const COMMAND_LABELS: Partial<Record<CommandType, string>> = {
  ping: "Check the connection (ping)",
  "renew-now": "Renew all certificates now",
  "refresh-external-scan": "Rescan external certificate managers",
  "update-settings": "Set agent settings (advanced)",
  "run-script": "Run a script",
};

/** Only the commands that can do something on this instance now, and why the others are not offered. */
function offeredCommands(i: InstanceView, managers: ExternalManagerView[]) {
  const offered: CommandType[] = ["ping"];
  const notes: string[] = [];
  if (i.certificateCount > 0) offered.push("renew-now");
  else notes.push("Renewing is offered once this instance has certificates.");
  // A rescan is worth offering once a client was found here (or failed to be read).
  if (managers.some((m) => m.status === "ok" || m.status === "error")) offered.push("refresh-external-scan");
  else notes.push("Rescanning is offered once the agent has found an external certificate manager (certbot, acme.sh, …) on this host; it scans by itself periodically — “Refresh now” below scans at once.");
  offered.push("update-settings");
  if (i.allowScripts === false) notes.push("Run a script: not offered, the agent reported that its host admin did not allow scripts (--allow-scripts).");
  else offered.push("run-script");
  return { offered, notes };
}

function QueueCommandForm(props: { i: InstanceView; managers: ExternalManagerView[]; auth: AuthInfo; values?: { type?: string; payload?: string }; error?: string }) {
  const { i } = props;
  if (!canWrite(props.auth.roles) || cutOffReason(i, i.joiningKey ? { state: i.joiningKey.state, clientId: i.joiningKey.clientId } : null)) return null;
  const url = `/instances/${i.id}/commands`;
  const { offered, notes } = offeredCommands(i, props.managers);
  const chosen = props.values?.type ?? "ping";
  return (
    <details class="card" id="queue-command" open={props.error ? true : undefined}>
      <summary>Send a command to the agent</summary>
      <form method="post" action={url} hx-post={url} hx-target="#queue-command" hx-swap="outerHTML">
        <Csrf auth={props.auth} />
        {props.error ? (
          <p class="alert error" role="alert">
            {props.error}
          </p>
        ) : null}
        <div class="form-row">
          <label>
            Command
            <select name="type">
              {offered.map((t) => (
                <option value={t} selected={t === chosen}>
                  {COMMAND_LABELS[t] ?? t}
                </option>
              ))}
            </select>
          </label>
          <label>
            Details (JSON, only for settings and scripts)
            <textarea name="payload" rows={3} placeholder={`${PAYLOAD_EXAMPLES["update-settings"]} or ${PAYLOAD_EXAMPLES["run-script"]}`}>
              {props.values?.payload ?? ""}
            </textarea>
          </label>
        </div>
        {notes.map((n) => (
          <p class="muted">{n}</p>
        ))}
        <button type="submit" class="primary">Send command</button>
      </form>
    </details>
  );
}

/** After an action: back to the page, the outcome in the flash cookie (never in the URL). */
function afterAction(c: Ctx, to: string, outcome: { done?: string; error?: string }) {
  return redirectWithFlash(c, to, outcome.error ? { kind: "error", text: sentence(outcome.error) } : outcome.done ? { kind: "success", text: outcome.done } : null);
}

/** An admin action from core/instances.ts; a refusal (RuleError) goes to the flash. */
async function runAction(c: Ctx, fn: typeof revokeInstance, done: string, redirectToList = false) {
  const id = c.req.param("id") ?? "";
  try {
    await fn(c.get("deps"), id, actorOf(c));
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    return afterAction(c, err.status === 404 ? "/instances" : `/instances/${encodeURIComponent(id)}`, { error: err.message });
  }
  return afterAction(c, redirectToList ? "/instances" : `/instances/${encodeURIComponent(id)}`, { done });
}

/**
 * Queues through the one rule (core/command-rules.ts). A refusal comes back with the form
 * as typed (422, htmx swaps it in; a plain post gets the whole page).
 */
async function queueFromPage(c: Ctx, type: string, payload: unknown, typed?: { type: string; payload: string }) {
  const id = c.req.param("id") ?? "";
  try {
    const cmd = await queueCommand(c.get("deps"), id, type as CommandType, payload, actorOf(c));
    if (!cmd) return afterAction(c, "/instances", { error: "instance not found" });
    return afterAction(c, `/instances/${encodeURIComponent(id)}`, { done: `Queued “${COMMAND_LABELS[type as CommandType] ?? type}” (#${cmd.seq}); the agent runs it within seconds.` });
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    if (!typed) return afterAction(c, `/instances/${encodeURIComponent(id)}`, { error: err.message });
    return commandFormError(c, id, sentence(err.message), typed);
  }
}

async function commandFormError(c: Ctx, id: string, error: string, typed: { type: string; payload: string }) {
  const parts = await detailParts(c, id);
  if (!parts) return afterAction(c, "/instances", { error: "instance not found" });
  const auth = c.get("auth");
  // A cut-off instance has no form: the refusal alone takes its place.
  const form = QueueCommandForm({ i: parts.i, managers: parts.managers, auth, values: typed, error }) ?? (
    <div id="queue-command" class="alert error" role="alert">
      {error}
    </div>
  );
  if (c.req.header("hx-request")) return c.html(form, 422);
  return c.html(<DetailPage c={c} parts={parts} form={form} />, 422);
}

function DetailPage(props: { c: Ctx; parts: NonNullable<Awaited<ReturnType<typeof detailParts>>>; form?: Child }) {
  const { c, parts } = props;
  const auth = c.get("auth");
  const { i } = parts;
  return (
    <Layout title={i.displayName ? `${i.displayName} (${i.hostname})` : i.hostname} auth={auth} active="instances">
      <p>
        <a href="/instances">‹ Instances</a>
        {i.labels.map((l) => (
          <span class="badge label">{l}</span>
        ))}
      </p>
      <Flash c={c} />
      <section id="instance-actions-panel" aria-label="Actions">
        <CutOffNotice i={i} />
        <Actions i={i} auth={auth} />
        {props.form ?? <QueueCommandForm i={i} managers={parts.managers} auth={auth} />}
        <NameForm i={i} auth={auth} />
      </section>
      <div id="instance-live" hx-get={`/instances/${i.id}/live`} hx-trigger="every 5s" hx-swap="innerHTML">
        <Live c={c} parts={parts} auth={auth} />
      </div>
    </Layout>
  );
}

/** Display name and labels, so two hosts both called "vm" can be told apart. */
function NameForm(props: { i: InstanceView; auth: AuthInfo }) {
  const { i } = props;
  if (!canWrite(props.auth.roles)) return null;
  const url = `/instances/${i.id}/name`;
  return (
    <details class="card" id="instance-name">
      <summary>Name and labels</summary>
      <form method="post" action={url}>
        <Csrf auth={props.auth} />
        <div class="form-row">
          <label>
            Display name <span class="muted">(shown instead of the hostname; the agent keeps reporting its hostname)</span>
            <input name="displayName" value={i.displayName ?? ""} maxlength={100} placeholder={i.hostname} />
          </label>
          <label>
            Labels <span class="muted">(comma-separated, e.g. production, web)</span>
            <input name="labels" value={i.labels.join(", ")} maxlength={400} />
          </label>
        </div>
        <button type="submit">Save name and labels</button>
      </form>
    </details>
  );
}

const nameForm = z.object({
  displayName: z.string().trim().max(100, "Keep the display name under 100 characters"),
  labels: z
    .string()
    .max(400)
    .transform((s) => [...new Set(s.split(",").map((l) => l.trim()).filter(Boolean))])
    .pipe(z.array(z.string().max(40, "Keep each label under 40 characters")).max(10, "At most 10 labels")),
});

export const instancePages = new Hono<HubEnv>()
  .get("/instances", async (c) => {
    const auth = c.get("auth");
    const filter = readFilter(c);
    const { rows, total } = await loadList(c, filter);
    const tableUrl = `/instances/table${qs({ q: filter.q, status: filter.status, offset: filter.offset })}`;
    return c.html(
      <Layout title="Instances" auth={auth} active="instances">
        <Flash c={c} />
        <p class="explain" id="instances-explained">
          An instance (the seeds' “Management Hub Managed Instance”) is a host running the certhub agent, joined to this hub with a joining key; the hub
          defines its certificates and the agent issues and deploys them there.
        </p>
        <form method="get" action="/instances" class="toolbar" id="instance-filter">
          <input type="search" name="q" value={filter.q ?? ""} placeholder="Name, hostname, label, id, group or key" aria-label="Search" />
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
    return c.html(<DetailPage c={c} parts={parts} />);
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
  .post("/instances/:id/revoke", (c) => runAction(c, revokeInstance, "Instance revoked: its next request is refused."))
  .post("/instances/:id/reinstate", (c) => runAction(c, reinstateInstance, "Instance reinstated."))
  .post("/instances/:id/reset-identity", (c) =>
    runAction(c, resetIdentity, "Identity reset requested: agents re-key at their next contact."),
  )
  .post("/instances/:id/remove", (c) => runAction(c, removeInstance, "Instance removed.", true))
  .post("/instances/:id/commands", async (c) => {
    const id = c.req.param("id");
    const body = await c.req.parseBody();
    const type = String(body.type ?? "").slice(0, 40);
    const raw = typeof body.payload === "string" ? body.payload.trim().slice(0, 70_000) : "";
    const typed = { type, payload: raw };
    let payload: unknown = {};
    if (raw) {
      // Depth-limited: a deeply nested payload parses but cannot be stored (stack overflow).
      const parsed = parseJsonBounded(raw);
      if (!parsed.ok) return commandFormError(c, id, `The details are not valid JSON (${parsed.error}).`, typed);
      payload = parsed.value;
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return commandFormError(c, id, "The details must be a JSON object, like {\"script\": \"…\"}.", typed);
    }
    return queueFromPage(c, type, payload, typed);
  })
  .post("/instances/:id/name", async (c) => {
    const id = c.req.param("id");
    const body = await c.req.parseBody();
    const parsed = nameForm.safeParse({ displayName: String(body.displayName ?? ""), labels: String(body.labels ?? "") });
    if (!parsed.success) return afterAction(c, `/instances/${encodeURIComponent(id)}`, { error: parsed.error.issues[0]?.message ?? "invalid name" });
    try {
      await renameInstance(c.get("deps"), id, { displayName: parsed.data.displayName || null, labels: parsed.data.labels }, actorOf(c));
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      return afterAction(c, "/instances", { error: err.message });
    }
    return afterAction(c, `/instances/${encodeURIComponent(id)}`, { done: "Name and labels saved." });
  });
