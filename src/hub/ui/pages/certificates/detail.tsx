// A managed certificate's page (/certificates/:id): status, serial, issuer, validity, the
// renewal plan and why, failures with the CA's own words, the attempt history with each step
// and its duration, every deployment task with its last result, the served-certificate check,
// the CA account registration, where the files are; Renew now, Test, Deploy now, Edit and
// Delete for administrators (POST forms with the CSRF token; a Read-only Viewer sees none).
import type { Child } from "hono/jsx";
import type { HubDb } from "../../../../db/client";
import { commandsForCertificate } from "../../../../db/commands";
import { getCaAccount } from "../../../../db/ca-accounts";
import { getInstance } from "../../../../db/instances";
import { canWrite } from "../../../../db/roles";
import type { getManagedCertificateDetail } from "../../../core/managed-certificates";
import { Csrf, Flash, StatusBadge, Time } from "../../components";
import { INVALID, isoTime } from "../../format";
import { Layout } from "../../layout";
import { BASE, type Ctx } from "./common";
import { serviceTaskText } from "./service-task";
import { TASK_LABEL, TRIGGER_LABEL, type TaskType } from "./tasks";
import { defaultVerifyHost } from "../../../../protocol/certificates";

export type Detail = Awaited<ReturnType<typeof getManagedCertificateDetail>>;

export const RENEWAL_REASON: Record<string, string> = {
  ari: "the CA's suggested renewal window (ARI)",
  lifetime: "the configured share of the lifetime has passed (default 2/3)",
  "days-before-expiry": "the configured number of days before expiry",
  backoff: "a retry after failures, waiting longer after each one",
  new: "first issuance",
  changed: "the definition changed (domains, key type or CA)",
  manual: "Renew now was requested",
};

function renewalRule(r: { daysBeforeExpiry?: number; lifetimePercent?: number } | null): string {
  if (r?.daysBeforeExpiry) return `${r.daysBeforeExpiry} days before expiry (this certificate's own rule)`;
  if (r?.lifetimePercent) return `at ${r.lifetimePercent} % of the lifetime (this certificate's own rule)`;
  return "from the settings (see the instance's effective settings)";
}

export function durationText(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return INVALID; // stored by an old agent or a hand edit
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function challengeText(ch: Record<string, unknown>): string {
  if (ch.type === "dns-01") return ch.provider === "exec" ? `DNS-01 via the hook ${ch.command}` : `DNS-01 via RFC 2136 update to ${ch.server}${ch.zone ? ` (zone ${ch.zone})` : ""}`;
  if (ch.webroot) return `HTTP-01, token files in ${ch.webroot}`;
  return `HTTP-01, the agent's listener on ${ch.address ?? "all addresses"} port ${ch.port ?? 80}`;
}

/** Where a task puts the certificate, or what it runs, in one line. */
export function taskTarget(t: Record<string, unknown>): string {
  switch (t.type) {
    case "pem":
      return `${t.directory}/{cert,chain,fullchain,privkey${t.combined ? ",combined" : ""}}.pem${t.mode ? ` mode ${t.mode}` : ""}${t.owner ? ` owner ${t.owner}` : ""}`;
    case "pfx":
      return `${t.path} (${t.encoding === "legacy" ? "legacy 3DES" : "modern AES-256"})`;
    case "script":
      return `${t.command}${Array.isArray(t.args) && t.args.length ? ` ${t.args.join(" ")}` : ""}`;
    case "service":
      return serviceTaskText(t);
    case "webhook":
      return `POST ${t.url}${t.secretCredentialId ? " (HMAC signed)" : ""}`;
    case "wait":
      return `${t.seconds} s`;
    default:
      return "";
  }
}

function ActionForm(props: { c: Ctx; id: string; action: string; label: string; confirm?: string; danger?: boolean; hint: string }) {
  const url = `${BASE}/${props.id}/${props.action}`;
  return (
    <form method="post" action={url} hx-post={url} hx-confirm={props.confirm} title={props.hint}>
      <Csrf auth={props.c.get("auth")} />
      <button type="submit" class={props.danger ? "danger" : ""}>
        {props.label}
      </button>
    </form>
  );
}

export const LIVE_ID = "certificate-live";

const ACTION_LABEL: Record<string, string> = { "renew-certificate": "Renew now", "test-certificate": "Test", "deploy-certificate": "Deploy now", "test-task": "Test task" };

type TaskRun = { at: number; outcome: string; message: string; ms?: number; output?: string };

/** One task run (its last deployment or its last test): outcome, time, duration, message, output tail. */
function TaskRunView(props: { r: TaskRun }) {
  const r = props.r;
  return (
    <>
      <StatusBadge status={r.outcome === "succeeded" ? "success" : r.outcome === "failed" ? "failure" : "skipped"} label={r.outcome} /> <Time ts={r.at} /> <span class="muted">{durationText(r.ms)}</span>
      <div>{r.message}</div>
      {r.output ? <pre class="output">{r.output}</pre> : null}
    </>
  );
}

/** The last commands queued for this certificate (renew, test, deploy), newest first. */
async function recentActions(db: HubDb, instanceId: string, id: string) {
  return commandsForCertificate(db, instanceId, id, 10);
}

function resultMessage(raw: string | null): string {
  if (!raw) return "";
  try {
    const r = JSON.parse(raw) as { message?: string };
    return (r.message ?? "").slice(0, 500);
  } catch {
    return "";
  }
}

const SERVED_TEXT: Record<string, string> = {
  served: "served: the host presents this certificate",
  stale: "stale: the host still presents an older certificate (did the service reload?)",
  unreachable: "unreachable: the check could not connect",
};

function Facts(props: { children: Child }) {
  return <dl class="facts">{props.children}</dl>;
}

/** The parts that change as the agent reports: polled every 5 s while the page is open. */
export async function DetailLive(props: { c: Ctx; d: Detail }) {
  const { c, d } = props;
  const write = canWrite(c.get("auth").roles);
  const { db } = c.get("deps");
  const [inst, ca, actions] = await Promise.all([getInstance(db, d.instanceId), getCaAccount(db, d.caAccountId), recentActions(db, d.instanceId, d.id)]);
  const outdated = d.reportedRevision !== null && d.reportedRevision < d.revision;
  return (
    <div id={LIVE_ID} hx-get={`${BASE}/${d.id}`} hx-trigger="every 5s" hx-target="this" hx-swap="outerHTML">
        <div class="card" id="certificate-status">
          <Facts>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={d.status} /> {d.status === "pending" ? <span class="muted">waiting for the agent's first report</span> : null}
              {outdated ? <span class="muted"> — the agent has not applied the latest edit yet</span> : null}
            </dd>
            <dt>Instance</dt>
            <dd>
              <a href={`/instances/${d.instanceId}`}>{inst?.hostname ?? d.instanceId}</a>
            </dd>
            <dt>Domains</dt>
            <dd class="wrap">{d.domains.join(", ")}</dd>
            <dt>Serial</dt>
            <dd class="mono wrap">{d.serial ?? "—"}</dd>
            <dt>Issuer</dt>
            <dd>{d.issuer ?? "—"}</dd>
            <dt>Valid</dt>
            <dd>
              {d.notBefore ? `${isoTime(d.notBefore)} → ${isoTime(d.notAfter)}` : "—"} {d.notAfter ? <Time ts={d.notAfter} /> : null}
            </dd>
            <dt>Next renewal</dt>
            <dd>
              {d.nextRenewalAt ? <Time ts={d.nextRenewalAt} /> : <span class="muted">not planned yet</span>}
              {d.renewalReason ? <span class="muted"> — {RENEWAL_REASON[d.renewalReason] ?? d.renewalReason}</span> : null}
            </dd>
            <dt>Renewal rule</dt>
          <dd>
            {renewalRule(d.renewal as { daysBeforeExpiry?: number; lifetimePercent?: number } | null)}
            {d.profile ? <span class="muted"> · ACME profile {d.profile}</span> : null}
          </dd>
          <dt>Failures</dt>
            <dd>{d.failureCount ? <span class="badge failure">{d.failureCount} in a row</span> : "none"}</dd>
            {d.lastError ? (
              <>
                <dt>Last error</dt>
                <dd class="ca-error">{d.lastError}</dd>
              </>
            ) : null}
            <dt>Key type</dt>
            <dd>{d.keyType}</dd>
            <dt>Challenge</dt>
            <dd>{challengeText(d.challenge as Record<string, unknown>)}</dd>
            <dt>CA account</dt>
            <dd>
              {ca ? ca.title : d.caAccountId} <span class="muted mono wrap">{ca?.directoryUrl}</span>
              <div>
                {d.accountRegistration ? (
                  <>
                    <StatusBadge status={d.accountRegistration.status} /> {d.accountRegistration.message ?? ""} <Time ts={d.accountRegistration.at} />
                  </>
                ) : (
                  <span class="muted">registration not reported yet</span>
                )}
              </div>
            </dd>
            <dt>Served certificate</dt>
            <dd>
              {d.verify ? (
                <>
                  {d.served ? <StatusBadge status={d.served === "served" ? "ok" : d.served === "stale" ? "warn" : "bad"} label={d.served} /> : <span class="muted">not checked yet</span>}{" "}
                  <span class="muted">
                    {d.verify.host ? `${d.verify.host}:${d.verify.port}` : `${defaultVerifyHost(d.domains) ?? "no host (every domain is a wildcard)"}:${d.verify.port} (first domain)`}
                    {d.served ? ` — ${SERVED_TEXT[d.served] ?? ""}` : ""}
                  </span>
                </>
              ) : (
                <span class="muted">no check configured (Edit › Check the served certificate)</span>
              )}
            </dd>
            <dt>Files</dt>
            <dd>
              On the agent, in its data directory under certificates/{d.id}/ (current and previous version, key 0600).
              {d.deployments
                .filter((t) => t.type === "pem" || t.type === "pfx")
                .map((t) => (
                  <div class="mono wrap">{taskTarget(t as Record<string, unknown>)}</div>
                ))}
            </dd>
            <dt>Definition</dt>
            <dd>
              revision {d.revision}, created <Time ts={d.createdAt} />, updated <Time ts={d.updatedAt} />
              {d.reportedAt ? (
                <>
                  {" "}
                  · last report <Time ts={d.reportedAt} />
                </>
              ) : null}
            </dd>
          </Facts>
        </div>

      <h2>Recent actions</h2>
      {actions.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <table id="certificate-actions-log">
          <tbody>
            {actions.map((a) => (
              <tr>
                <td>{ACTION_LABEL[a.type] ?? a.type}</td>
                <td>
                  <StatusBadge status={a.status === "succeeded" ? "success" : a.status === "failed" || a.status === "rejected" ? "failure" : "pending"} label={a.status} />
                </td>
                <td class="detail">{resultMessage(a.result)}</td>
                <td>
                  <Time ts={a.createdAt} /> {a.createdBy ? <span class="muted">by {a.createdBy}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Deployment tasks</h2>
      {d.deployments.length === 0 ? (
        <p class="muted">No deployment tasks: the certificate stays in the agent's data directory.{write ? " Edit to add PEM files, a PFX, a service reload…" : ""}</p>
      ) : (
        <div class="table-scroll">
          <table id="deployment-results">
            <thead>
              <tr>
                <th>#</th>
                <th>Task</th>
                <th>Runs</th>
                <th>Last result</th>
                {write ? <th></th> : null}
              </tr>
            </thead>
            <tbody>
              {d.deployments.map((t, i) => {
                const r = t.lastResult as TaskRun | null;
                const tested = (t as { lastTest?: TaskRun | null }).lastTest ?? null;
                return (
                  <tr data-task-index={i}>
                    <td>{i + 1}</td>
                    <td>
                      <strong>{t.type !== "service" && t.name ? t.name : TASK_LABEL[t.type as TaskType]}</strong>
                      {t.type !== "service" && t.name ? <span class="muted"> {TASK_LABEL[t.type as TaskType]}</span> : null}
                      <div class="mono wrap detail">{taskTarget(t as Record<string, unknown>)}</div>
                    </td>
                    <td>
                      {TRIGGER_LABEL[t.trigger as keyof typeof TRIGGER_LABEL] ?? t.trigger}
                      {t.continueOnError ? <div class="muted">continues on error</div> : null}
                    </td>
                    <td>
                      {r ? <TaskRunView r={r} /> : <span class="muted">not run yet</span>}
                      {tested ? (
                        <div class="task-test">
                          <strong>Last test</strong> <TaskRunView r={tested} />
                        </div>
                      ) : null}
                    </td>
                    {write ? (
                      <td>
                        <ActionForm c={c} id={d.id} action={`tasks/${i}/test`} label="Test task" hint="Run this task alone now with the current certificate and show its output" />
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      <h2>Attempts</h2>
      {d.attempts.length === 0 ? (
        <p class="muted">No attempt reported yet.</p>
      ) : (
        <ol class="attempts" id="attempts">
          {(d.attempts as { at: number; kind?: string; outcome: string; message: string; serial?: string; steps?: { name: string; outcome: string; ms: number; domain?: string; message?: string }[] }[]).map((a) => (
            <li class="card attempt">
              <div>
                <StatusBadge status={a.outcome === "succeeded" ? "success" : a.outcome === "failed" ? "failure" : "warn"} label={a.outcome} /> <strong>{a.kind ?? "issue"}</strong> <Time ts={a.at} />{" "}
                <span class="muted">{isoTime(a.at)}</span>
                {a.serial ? <span class="muted mono"> serial {a.serial}</span> : null}
              </div>
              {a.message ? <div class="attempt-message">{a.message}</div> : null}
              {a.steps?.length ? (
                <table class="steps">
                  <tbody>
                    {a.steps.map((s) => (
                      <tr>
                        <td>{s.name}</td>
                        <td>{s.domain ?? ""}</td>
                        <td>
                          <StatusBadge status={s.outcome === "ok" ? "success" : s.outcome === "failed" ? "failure" : "skipped"} label={s.outcome} />
                        </td>
                        <td class="nowrap">{durationText(s.ms)}</td>
                        <td class="detail">{s.message ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export async function DetailPage(props: { c: Ctx; d: Detail; flash?: Parameters<typeof Flash>[0]["message"] }) {
  const { c, d } = props;
  const auth = c.get("auth");
  const write = canWrite(auth.roles);
  return (
    <Layout title={d.name} auth={auth} active="certificates">
      <p>
        <a href="/certificates">‹ Certificates</a>
      </p>
      <Flash message={props.flash} />
      {write ? (
        <div class="actions" id="certificate-actions">
          <ActionForm c={c} id={d.id} action="renew" label="Renew now" hint="Order a new certificate now, whatever the plan says" />
          <ActionForm c={c} id={d.id} action="test" label="Test" hint="Preflight: check the challenge works for every domain, without asking the CA" />
          <ActionForm c={c} id={d.id} action="deploy" label="Deploy now" hint="Run the deployment tasks again with the current certificate, without renewing" />
          <a class="button" href={`${BASE}/${d.id}/edit`}>
            Edit
          </a>
          <ActionForm c={c} id={d.id} action="delete" label="Delete" danger confirm={`Delete the certificate “${d.name}”? The agent stops renewing it and removes its copy; files written by deployment tasks stay.`} hint="Stop managing this certificate" />
        </div>
      ) : (
        <p class="muted">Read-only access: you can view this certificate but not change or renew it.</p>
      )}

      {await DetailLive({ c, d })}
    </Layout>
  );
}
