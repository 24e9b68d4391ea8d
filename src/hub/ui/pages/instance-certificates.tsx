// The certificate parts of an instance's page (/instances/:id): its certificates (managed and
// external, with status and expiry, each linking to its page, and "New certificate for this
// instance"), its effective settings with where each came from, and its external certificate
// managers as the agent last scanned them, with problems and "Refresh now"
// (POST /instances/:id/external-refresh, also used from Settings › External Certificate Managers).
import { Hono } from "hono";
import type { HubDb } from "../../../db/client";
import { canWrite } from "../../../db/roles";
import { instanceCertificatesPage } from "../../../db/certificates";
import type { HubEnv } from "../../context";
import { RuleError } from "../../core/errors";
import { refreshExternalScan, type ExternalManagerView } from "../../core/external-managers";
import type { EffectiveSetting } from "../../core/settings";
import { actorOf } from "../../middleware/auth";
import { Csrf, StatusBadge, Time } from "../components";
import { daysLeft, isoTime, qs } from "../format";
import { redirectWithFlash } from "../flash";
import { sentence } from "../rule-errors";
import { detailHref, SOURCE_LABEL, type Ctx } from "./certificates/common";
import { parseDomains } from "../../../db/certificate-list";
import { showValue } from "./settings/general";

const SHOWN = 100;

/** The instance's certificates, soonest expiry first (bounded; the Certificates page has the rest). */
export async function instanceCertificates(db: HubDb, instanceId: string) {
  const { rows, total } = await instanceCertificatesPage(db, instanceId, SHOWN + 1);
  return { rows: rows.slice(0, SHOWN), total };
}

export function InstanceCertificatesSection(props: { c: Ctx; instanceId: string; list: Awaited<ReturnType<typeof instanceCertificates>>; usable: boolean }) {
  const { c, instanceId, list } = props;
  const write = canWrite(c.get("auth").roles);
  return (
    <section id="instance-certificates">
      <div class="toolbar">
        <h2>Certificates</h2>
        <span class="spacer"></span>
        {write && props.usable ? (
          <a class="button primary" href={`/certificates/new${qs({ instanceId })}`}>
            New certificate for this instance
          </a>
        ) : null}
      </div>
      {list.rows.length === 0 ? (
        <p class="muted">
          No certificates on this instance yet.{" "}
          {write && props.usable ? (
            <>
              <a href={`/certificates/new${qs({ instanceId })}`}>Define one</a>, or let the agent report those of certbot, acme.sh and the other external clients (see below).
            </>
          ) : null}
        </p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Domains</th>
                <th>Source</th>
                <th>Status</th>
                <th>Expires</th>
              </tr>
            </thead>
            <tbody>
              {list.rows.map((r) => (
                <tr data-certificate-id={r.id}>
                  <td>
                    <a href={detailHref(r)}>{r.name}</a>
                    {r.lastError ? <div class="detail">{r.lastError.slice(0, 200)}</div> : null}
                  </td>
                  <td class="wrap">{parseDomains(r.domains).slice(0, 4).join(", ")}</td>
                  <td>
                    {SOURCE_LABEL(r.source)}
                    {r.source !== "managed" ? <span class="muted"> (read-only)</span> : null}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td title={isoTime(r.notAfter)} class="nowrap">
                    {daysLeft(r.notAfter) || "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.total > list.rows.length ? (
        <p>
          <a href={`/certificates${qs({ instanceId })}`}>All {list.total} certificates of this instance</a>
        </p>
      ) : null}
    </section>
  );
}

const ORIGIN_LABEL: Record<string, string> = { default: "built-in default", global: "All instances", group: "group", instance: "this instance" };

export function EffectiveSettings(props: { settings: EffectiveSetting[]; instanceId: string }) {
  return (
    <section id="effective-settings">
      <h2>Effective settings</h2>
      <table>
        <thead>
          <tr>
            <th>Setting</th>
            <th>Value</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {props.settings.map((s) => (
            <tr data-setting={s.key}>
              <td>{s.label}</td>
              <td class="wrap">{showValue(s.key, s.value)}</td>
              <td>
                <span class={`badge origin-${s.scope}`}>{ORIGIN_LABEL[s.scope] ?? s.scope}</span>
                {s.scope === "group" ? <span class="muted"> {s.scopeId}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small-print">
        The narrowest scope wins. Change them under <a href={`/settings${qs({ scope: "instance", instance: props.instanceId })}`}>Settings</a> for this instance, its group or All instances.
      </p>
    </section>
  );
}

const STATUS_TEXT: Record<string, string> = { ok: "found", "not-found": "not found", disabled: "disabled", error: "problem" };

export function ExternalManagersStatus(props: { c: Ctx; instanceId: string; managers: ExternalManagerView[]; usable?: boolean }) {
  const { c, instanceId, managers } = props;
  const url = `/instances/${encodeURIComponent(instanceId)}/external-refresh`;
  return (
    <section id="external-managers">
      <div class="toolbar">
        <h2>External certificate managers</h2>
        <span class="spacer"></span>
        {canWrite(c.get("auth").roles) && props.usable !== false ? (
          <form method="post" action={url} hx-post={url}>
            <Csrf auth={c.get("auth")} />
            <button type="submit">Refresh now</button>
          </form>
        ) : null}
      </div>
      <table>
        <thead>
          <tr>
            <th>Client</th>
            <th>State</th>
            <th>Path</th>
            <th>Certificates</th>
            <th>Scanned</th>
          </tr>
        </thead>
        <tbody>
          {managers.map((m) => (
            <tr data-client={m.name}>
              <td>{SOURCE_LABEL(m.name)}</td>
              <td>
                {m.status === "not-found" && !m.scannedAt ? (
                  <StatusBadge status="none" label="not scanned yet" />
                ) : (
                  <StatusBadge status={m.status === "ok" ? "ok" : m.status === "error" ? "error" : m.status === "disabled" ? "disabled" : "none"} label={STATUS_TEXT[m.status] ?? m.status} />
                )}
                {m.problems.map((p) => (
                  <div class="problem">{p}</div>
                ))}
              </td>
              <td class="mono wrap">{m.configPath ?? <span class="muted">default</span>}</td>
              <td>{m.certificateCount}</td>
              <td>{m.scannedAt ? <Time ts={m.scannedAt} /> : <span class="muted">not yet</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export const instanceCertificatePages = new Hono<HubEnv>().post("/instances/:id/external-refresh", async (c) => {
  const id = c.req.param("id");
  const back = `/instances/${encodeURIComponent(id)}`;
  try {
    await refreshExternalScan(c.get("deps"), actorOf(c), id);
    return redirectWithFlash(c, back, { kind: "success", text: "Refresh queued: the agent rescans its external certificate managers now." });
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    if (c.req.header("hx-request")) return c.text(sentence(err.message), err.status);
    return redirectWithFlash(c, err.status === 404 ? "/instances" : back, { kind: "error", text: sentence(err.message) });
  }
});
