// A reported certificate the hub does not manage (/certificates/external/:instanceId/:id):
// one renewed by an external ACME client (certbot, acme.sh, Posh-ACME, simple-acme, win-acme)
// or an agent-side one. Read-only: client, identifier, domains, files, validity, next
// renewal as the client plans it; "Refresh now" asks the agent to rescan its clients.
import type { CertificateRow } from "../../../../db/certificates";
import { getInstance } from "../../../../db/instances";
import { canWrite } from "../../../../db/roles";
import { Csrf, Flash, StatusBadge, Time } from "../../components";
import { isoTime } from "../../format";
import { Layout } from "../../layout";
import { type Ctx, SOURCE_LABEL } from "./common";
import { parseDomains } from "../../../../db/certificate-list";

export function externalRefreshUrl(instanceId: string, id: string) {
  return `/certificates/external/${encodeURIComponent(instanceId)}/${encodeURIComponent(id)}/refresh`;
}

export async function ExternalPage(props: { c: Ctx; row: CertificateRow; flash?: Parameters<typeof Flash>[0]["message"] }) {
  const { c, row } = props;
  const auth = c.get("auth");
  const inst = await getInstance(c.get("deps").db, row.instanceId);
  const detail = (row.detail ?? {}) as { paths?: Record<string, string>; identifier?: string };
  const url = externalRefreshUrl(row.instanceId, row.id);
  return (
    <Layout title={row.name} auth={auth} active="certificates">
      <p>
        <a href="/certificates">‹ Certificates</a>
      </p>
      <Flash message={props.flash} />
      <p class="muted">
        {row.source === "managed"
          ? "Reported by the agent but not defined on this hub: shown read-only."
          : `Renewed by ${SOURCE_LABEL(row.source)} on the host, not by certhub: shown read-only. Change it with ${SOURCE_LABEL(row.source)} itself.`}
      </p>
      <div class="card" id="certificate-status">
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={row.status} />
          </dd>
          <dt>Client</dt>
          <dd>{SOURCE_LABEL(row.source)}</dd>
          <dt>Identifier</dt>
          <dd class="mono wrap">{detail.identifier ?? row.id}</dd>
          <dt>Instance</dt>
          <dd>
            <a href={`/instances/${row.instanceId}`}>{inst?.hostname ?? row.instanceId}</a>
          </dd>
          <dt>Domains</dt>
          <dd class="wrap">{parseDomains(row.domains).join(", ") || "—"}</dd>
          <dt>Serial</dt>
          <dd class="mono wrap">{row.serial ?? "—"}</dd>
          <dt>Issuer</dt>
          <dd>{row.issuer ?? "—"}</dd>
          <dt>Valid</dt>
          <dd>
            {row.notBefore ? `${isoTime(row.notBefore)} → ${isoTime(row.notAfter)}` : "—"} {row.notAfter ? <Time ts={row.notAfter} /> : null}
          </dd>
          <dt>Next renewal</dt>
          <dd>{row.nextRenewalAt ? <Time ts={row.nextRenewalAt} /> : <span class="muted">not recorded by the client</span>}</dd>
          {row.lastError ? (
            <>
              <dt>Last error</dt>
              <dd class="ca-error">{row.lastError}</dd>
            </>
          ) : null}
          <dt>Files</dt>
          <dd>
            {detail.paths && Object.keys(detail.paths).length ? (
              <dl class="facts nested">
                {Object.entries(detail.paths).map(([k, p]) => (
                  <>
                    <dt>{k}</dt>
                    <dd class="mono wrap">{p}</dd>
                  </>
                ))}
              </dl>
            ) : (
              <span class="muted">not reported</span>
            )}
          </dd>
          <dt>Reported</dt>
          <dd>
            <Time ts={row.updatedAt} />
          </dd>
        </dl>
      </div>
      {canWrite(auth.roles) ? (
        <form method="post" action={url} hx-post={url} class="actions">
          <Csrf auth={auth} />
          <button type="submit">Refresh now</button>
          <span class="muted">Asks the agent to rescan its external certificate managers now.</span>
        </form>
      ) : null}
    </Layout>
  );
}
