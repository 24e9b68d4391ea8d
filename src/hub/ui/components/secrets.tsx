// The show-once secret panel with the agent join commands, and the hub URL and fingerprint they use.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Context } from "hono";
import type { HubConfig } from "../../config";
import type { HubEnv } from "../../context";
import { certificateFingerprint } from "../../tls";
import { joinCommands } from "../../join-commands";

type Ctx = Context<HubEnv>;

/** The hub URL agents should use, as the admin's browser sees it. */
export const hubUrlOf = (c: Ctx) => new URL(c.req.url).origin;

const fingerprints = new WeakMap<HubConfig, string | null>();

/**
 * The fingerprint agents pin for the hub's self-signed certificate; undefined over plain
 * HTTP or with an operator-supplied certificate (which agents verify normally).
 */
export function hubFingerprint(c: Ctx): string | undefined {
  const { config } = c.get("deps");
  if (config.http || config.tlsCert || new URL(c.req.url).protocol !== "https:") return undefined;
  if (!fingerprints.has(config)) {
    try {
      fingerprints.set(config, certificateFingerprint(readFileSync(path.join(config.dataDir, "hub-tls.crt"), "utf8")));
    } catch {
      fingerprints.set(config, null);
    }
  }
  return fingerprints.get(config) ?? undefined;
}

function CopyBlock(props: { id: string; text: string; label: string }) {
  return (
    <div class="copy-block">
      <div class="copy-head">
        <span class="muted">{props.label}</span>
        <button type="button" class="small" data-copy={`#${props.id}`}>
          Copy
        </button>
      </div>
      <pre id={props.id}>{props.text}</pre>
    </div>
  );
}

/** Ready-to-paste join commands; `idPrefix` keeps copy targets unique on the page. */
export function JoinCommands(props: { hubUrl: string; clientId: string; secret: string; fingerprint?: string; idPrefix: string }) {
  const cmds = joinCommands(props);
  return (
    <div class="join-commands">
      <CopyBlock id={`${props.idPrefix}-cli`} label="On the instance, with the agent running (certhub --agent):" text={cmds.cli} />
      <CopyBlock id={`${props.idPrefix}-curl`} label="Or with curl against the agent's local API:" text={cmds.curl} />
      <p class="muted small-print">
        The curl line assumes the agent runs as root (data dir /var/lib/certhub-agent); otherwise read local-api.token from
        ~/.local/share/certhub-agent. The hub URL is the one your browser uses — replace it if the instance reaches the hub by another
        address.
      </p>
    </div>
  );
}

/**
 * The one and only display of a new client secret. hx-history="false" keeps htmx from
 * snapshotting a page holding it into localStorage.
 */
export function SecretOnce(props: {
  title: string;
  clientId: string;
  secret: string;
  join?: { hubUrl: string; fingerprint?: string } | null;
  apiExample?: { hubUrl: string } | null;
}) {
  return (
    <section class="card secret-once" id="secret-once" hx-history="false" role="status" data-dismissable>
      <h2>“{props.title}” created — copy the secret now</h2>
      <p>
        <strong>This is the only time the secret is shown.</strong> The hub keeps only a hash of it. If it is lost, create a new key and
        revoke this one.
      </p>
      <dl class="facts">
        <dt>Client ID</dt>
        <dd class="copy-inline">
          <code id="new-client-id">{props.clientId}</code>
          <button type="button" class="small" data-copy="#new-client-id">
            Copy
          </button>
        </dd>
        <dt>Secret</dt>
        <dd class="copy-inline">
          <code id="new-client-secret">{props.secret}</code>
          <button type="button" class="small" data-copy="#new-client-secret">
            Copy
          </button>
        </dd>
      </dl>
      {props.join ? (
        <>
          <h3>Join an instance with this key</h3>
          <JoinCommands idPrefix="new-join" hubUrl={props.join.hubUrl} fingerprint={props.join.fingerprint} clientId={props.clientId} secret={props.secret} />
        </>
      ) : null}
      {props.apiExample ? (
        <>
          <h3>Use it with the JSON API</h3>
          <CopyBlock id="new-api-example" label="HTTP Basic with client id and secret:" text={`curl -u '${props.clientId}:${props.secret}' ${props.apiExample.hubUrl}/api/v1/instances`} />
        </>
      ) : null}
      <button type="button" class="dismiss" data-dismiss>
        I have copied it — hide the secret
      </button>
    </section>
  );
}
