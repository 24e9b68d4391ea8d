// Dashboard (/): fleet counts at a glance, and for a new hub the next step — join the first
// instance with ready-to-paste commands. Existing secrets are unrecoverable, so the
// commands show a <secret> placeholder until the admin creates a fresh joining key here.
import { Hono, type Context } from "hono";
import type { Child } from "hono/jsx";
import { listAudit } from "../../../db/audit";
import { certificateCounts } from "../../../db/certificates";
import { countInstancesByStatus, type InstanceStatus } from "../../../db/instances";
import { countPrincipals } from "../../../db/principals";
import { tokenStatus, unrevokedJoiningKeys } from "../../../db/api-tokens";
import { canWrite, ROLE } from "../../../db/roles";
import type { AuthInfo, HubEnv } from "../../context";
import { actorOf } from "../../middleware/auth";
import { RuleError } from "../../core/errors";
import { issueToken } from "../../core/tokens";
import { Csrf, EmptyState, Flash, hubFingerprint, hubUrlOf, isHtmx, JoinCommands, SecretOnce, StatusBadge, Time } from "../components";
import { Layout } from "../layout";
import { auditActionLabel } from "../audit-labels";

type Ctx = Context<HubEnv>;
const EXPIRING_DAYS = 30;

async function loadCounts(c: Ctx) {
  const { db } = c.get("deps");
  const now = Date.now();
  const [byStatus, certs, keys, people, recent] = await Promise.all([
    countInstancesByStatus(db, now),
    certificateCounts(db, now, EXPIRING_DAYS * 86_400_000),
    unrevokedJoiningKeys(db),
    countPrincipals(db),
    listAudit(db, { limit: 8 }),
  ]);
  const activeKeys = keys.filter((k) => tokenStatus(k, now) === "active").sort((a, b) => b.createdAt - a.createdAt);
  const count = (type: string, disabled?: boolean) =>
    people.filter((p) => p.type === type && (disabled === undefined || p.disabled === disabled)).reduce((s, p) => s + Number(p.n), 0);
  const instanceTotal = Object.values(byStatus).reduce((s, n) => s + n, 0);
  return {
    instances: { total: instanceTotal, byStatus },
    certs,
    activeKeys,
    users: { total: count("user"), disabled: count("user", true), services: count("service") },
    recent: recent.rows,
  };
}

type Counts = Awaited<ReturnType<typeof loadCounts>>;

function Stat(props: { value: number | string; label: string; href?: string; children?: Child }) {
  return (
    <div class="card stat">
      <div class="value">{props.href ? <a href={props.href}>{props.value}</a> : props.value}</div>
      <div class="label">{props.label}</div>
      {props.children}
    </div>
  );
}

/** "1 User", "2 Users" next to the big number. */
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

const STATUS_ORDER: InstanceStatus[] = ["online", "offline", "conflict", "revoked"];

/** Join commands for the newest active key (client ID known, secret not), or placeholders. */
function JoinPanel(props: { c: Ctx; counts: Counts; auth: AuthInfo; error?: string }) {
  const { c, counts } = props;
  const key = counts.activeKeys[0];
  const admin = canWrite(props.auth.roles);
  return (
    <div id="join-panel">
      {props.error ? <p class="alert error">{props.error}</p> : null}
      <ol class="steps">
        <li>
          Copy the <span class="mono">certhub</span> binary to the host and start the agent there: <code>certhub --agent</code> (as root it keeps its data
          in /var/lib/certhub-agent).
        </li>
        <li>
          Join it to this hub with a joining key.{" "}
          {key ? (
            <>
              The newest active key is “{key.title}” (<span class="mono">{key.clientId}</span>); its secret was shown only when it was created, so
              replace <code>&lt;secret&gt;</code> below — or create a new key to get the commands filled in.
            </>
          ) : (
            <>There is no active joining key: create one to get the commands filled in.</>
          )}
          <JoinCommands idPrefix="join" hubUrl={hubUrlOf(c)} fingerprint={hubFingerprint(c)} clientId={key?.clientId ?? "<client-id>"} secret="<secret>" />
          {admin ? (
            <form method="post" action="/dashboard/joining-key" hx-post="/dashboard/joining-key" hx-target="#join-panel" hx-swap="outerHTML" class="inline-form">
              <Csrf auth={props.auth} />
              <button type="submit" class="primary">
                Create a new joining key
              </button>{" "}
              <a href="/settings/api-access?add=1">or choose its group, expiry and max uses on API Access</a>
            </form>
          ) : (
            <p class="muted">Ask an administrator for a joining key.</p>
          )}
        </li>
        <li>
          The instance appears under <a href="/instances">Instances</a> within a few seconds.
        </li>
      </ol>
    </div>
  );
}

function NewKeyPanel(props: { c: Ctx; created: Awaited<ReturnType<typeof issueToken>> }) {
  const { c, created } = props;
  return (
    <div id="join-panel">
      <SecretOnce title={created.title} clientId={created.clientId} secret={created.secret} join={{ hubUrl: hubUrlOf(c), fingerprint: hubFingerprint(c) }} />
      <p>
        Run one of the commands on the instance; it then appears under <a href="/instances">Instances</a>. Manage this key (retire, revoke) on{" "}
        <a href="/settings/api-access">API Access</a>.
      </p>
    </div>
  );
}

function Dashboard(props: { c: Ctx; counts: Counts; joinPanel?: Child }) {
  const { c, counts } = props;
  const auth = c.get("auth");
  const { instances: inst, certs, users } = counts;
  return (
    <Layout title="Dashboard" auth={auth} active="dashboard">
      <Flash />
      <div class="cards">
        <Stat value={inst.total} label={plural(inst.total, "Instance", "Instances")} href="/instances">
          <div class="stat-breakdown">
            {STATUS_ORDER.filter((s) => inst.byStatus[s] > 0).map((s) => (
              <a href={`/instances?status=${s}`}>
                <StatusBadge status={s} label={`${inst.byStatus[s]} ${s}`} />
              </a>
            ))}
          </div>
        </Stat>
        {certs.total > 0 ? (
          <Stat value={certs.total} label={plural(certs.total, "Certificate", "Certificates")} href="/certificates">
            <div class="stat-breakdown">
              {certs.expiring ? <StatusBadge status="expiring" label={`${certs.expiring} expire within ${EXPIRING_DAYS} d`} /> : null}
              {certs.expired ? <StatusBadge status="expired" label={`${certs.expired} expired`} /> : null}
              {!certs.expiring && !certs.expired ? <span class="muted">none expiring within {EXPIRING_DAYS} d</span> : null}
            </div>
          </Stat>
        ) : null}
        <Stat value={counts.activeKeys.length} label={plural(counts.activeKeys.length, "Active joining key", "Active joining keys")} href="/settings/api-access?role=managed-instance" />
        <Stat value={users.total} label={plural(users.total, "User", "Users")} href="/settings/users?type=user">
          <div class="stat-breakdown muted">
            {users.disabled ? `${users.disabled} disabled · ` : ""}
            {users.services} application/service principal{users.services === 1 ? "" : "s"}
          </div>
        </Stat>
      </div>

      {inst.total === 0 ? (
        <section class="card" id="join">
          <h2>Join your first instance</h2>
          <p>No instance has joined this hub yet. An instance is a host running the certhub agent; once joined, its certificates show up here.</p>
          {props.joinPanel ?? <JoinPanel c={c} counts={counts} auth={auth} />}
        </section>
      ) : (
        <details class="card" id="join" open={props.joinPanel ? true : undefined}>
          <summary>Join another instance</summary>
          {props.joinPanel ?? <JoinPanel c={c} counts={counts} auth={auth} />}
        </details>
      )}

      <h2>Recent activity</h2>
      {counts.recent.length === 0 ? (
        <EmptyState title="Nothing recorded yet." />
      ) : (
        <div class="table-scroll">
        <table id="recent-activity">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {counts.recent.map((e) => (
              <tr>
                <td>
                  <Time ts={e.at} />
                </td>
                <td>{e.actorLabel}</td>
                <td title={e.action}>{auditActionLabel(e.action)}</td>
                <td>
                  <StatusBadge status={e.outcome} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <p>
        <a href="/audit">Full audit log ›</a>
      </p>
    </Layout>
  );
}

export const dashboardPages = new Hono<HubEnv>()
  .get("/", async (c) => c.html(<Dashboard c={c} counts={await loadCounts(c)} />))

  // One click to a fresh joining key with the commands filled in (defaults: shared
  // managed-instance principal, no expiry, unlimited uses; API Access offers the rest).
  .post("/dashboard/joining-key", async (c) => {
    const stamp = new Date().toISOString().slice(0, 16).replace("T", " ");
    let created: Awaited<ReturnType<typeof issueToken>> | undefined;
    let error: string | undefined;
    try {
      created = await issueToken(c.get("deps").db, { title: `Instance Joining Key ${stamp} UTC`, role: ROLE.managedInstance }, actorOf(c));
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      error = `Could not create a joining key: ${err.message}.`;
    }
    c.header("Cache-Control", "no-store");
    const panel = created ? <NewKeyPanel c={c} created={created} /> : <JoinPanel c={c} counts={await loadCounts(c)} auth={c.get("auth")} error={error} />;
    if (isHtmx(c)) return c.html(panel, created ? 201 : 200);
    return c.html(<Dashboard c={c} counts={await loadCounts(c)} joinPanel={panel} />, created ? 201 : 422);
  });
