// The certificate form (/certificates/new, /certificates/:id/edit): target instance (the
// searchable Target Instance selector), name, domains, key type, the CA account and stored
// credentials that instance can use (its scopes: All instances, its group, itself), the
// challenge with its fields, the deployment task editor, and the optional served-certificate
// check. Choosing another instance re-renders the form so the pickers follow it.
import { listCaAccounts } from "../../../../db/ca-accounts";
import { listCredentialsMeta } from "../../../../db/credentials";
import { getInstance, listInstanceChoices } from "../../../../db/instances";
import { KEY_TYPES } from "../../../../protocol/certificates";
import { effectiveValues } from "../../../core/settings";
import { describeScope } from "../../../core/scope";
import { Csrf, FieldError, FormError, type FormState, valueOf } from "../../components";
import type { Ctx } from "./common";
import { CHALLENGE_KINDS, type ChallengeKind } from "./form-parse";
import { TaskEditor } from "./tasks";

export interface FormChoices {
  instances: { id: string; hostname: string }[];
  more: boolean;
  find?: string;
  instance?: { id: string; hostname: string; groupName: string | null };
  caAccounts: { id: string; title: string; where: string }[];
  credentials: { id: string; title: string; type: string }[];
  defaultKeyType?: string;
}

/** What the form offers for the chosen instance (only what that instance can use). */
export async function loadChoices(c: Ctx, form: FormState, fixedInstanceId?: string): Promise<FormChoices> {
  const core = c.get("deps");
  const find = valueOf(form, "find").trim().slice(0, 100) || undefined;
  const instanceId = (fixedInstanceId ?? valueOf(form, "instanceId")).slice(0, 64);
  const [{ rows, more }, inst] = await Promise.all([
    fixedInstanceId ? Promise.resolve({ rows: [], more: false }) : listInstanceChoices(core.db, { q: find, limit: 100 }),
    instanceId ? getInstance(core.db, instanceId) : undefined,
  ]);
  const instances = [...rows];
  if (inst && !instances.some((i) => i.id === inst.id)) instances.unshift({ id: inst.id, hostname: inst.hostname });
  if (!inst) return { instances, more, find, caAccounts: [], credentials: [] };
  const facts = { id: inst.id, groupName: inst.groupName };
  const [accounts, creds, settings] = await Promise.all([listCaAccounts(core.db, { instance: facts }), listCredentialsMeta(core.db, { instance: facts }), effectiveValues(core, facts)]);
  return {
    instances,
    more,
    find,
    instance: { id: inst.id, hostname: inst.hostname, groupName: inst.groupName },
    caAccounts: accounts.map((a) => ({ id: a.id, title: a.title, where: describeScope(a) })),
    credentials: creds.filter((x) => x.type !== "eab").map((x) => ({ id: x.id, title: x.title, type: x.type })),
    defaultKeyType: typeof settings.defaultKeyType === "string" ? settings.defaultKeyType : undefined,
  };
}

const CHALLENGE_LABEL: Record<ChallengeKind, string> = {
  "http-standalone": "HTTP-01, the agent's own listener",
  "http-webroot": "HTTP-01, files in a web root",
  "dns-rfc2136": "DNS-01, RFC 2136 dynamic update (TSIG)",
  "dns-exec": "DNS-01, a hook script",
};

export function CertificateForm(props: { c: Ctx; form: FormState; choices: FormChoices; action: string; editing?: { certId: string; instanceId: string; hostname: string } }) {
  const { c, form, choices } = props;
  const v = (n: string) => valueOf(form, n);
  const inv = (n: string) => (form.errors[n] ? "true" : undefined);
  const kind = (CHALLENGE_KINDS as readonly string[]).includes(v("challenge.kind")) ? v("challenge.kind") : "http-standalone";
  const selected = choices.instance?.id;
  // Changing the instance or the search re-renders the form for it (op=refresh) without saving.
  const refresh = { "hx-post": props.action, "hx-trigger": "change", "hx-target": "closest .form-host", "hx-swap": "outerHTML", "hx-vals": JSON.stringify({ op: "refresh" }) };
  const tsig = choices.credentials.filter((x) => x.type === "tsig");
  return (
    <div class="form-host" id="certificate-form-host">
      <form method="post" action={props.action} hx-post={props.action} hx-target="closest .form-host" hx-swap="outerHTML" class="cert-form card" novalidate>
        {/* The first submit button is the one Enter presses: Save, not a task's Up. */}
        <button type="submit" name="op" value="save" class="visually-hidden" tabindex={-1} aria-hidden="true">
          Save
        </button>
        <Csrf auth={c.get("auth")} />
        <FormError form={form} />
        <h2>Where</h2>
        {props.editing ? (
          <p>
            Target instance: <a href={`/instances/${props.editing.instanceId}`}>{props.editing.hostname}</a> <span class="muted mono">{props.editing.instanceId}</span>
            <span class="hint">To move a certificate to another instance, define it there and delete this one.</span>
            <input type="hidden" name="instanceId" value={props.editing.instanceId} />
          </p>
        ) : (
          <div class="form-row target-instance" id="target-instance">
            <label>
              Find instance
              <input type="search" name="find" value={choices.find ?? ""} placeholder="hostname or id" maxlength={100} {...refresh} />
            </label>
            <label>
              Target Instance
              <select name="instanceId" aria-invalid={inv("instanceId")} {...refresh}>
                <option value="" selected={!selected}>
                  — pick the instance that will hold the certificate —
                </option>
                {choices.instances.map((i) => (
                  <option value={i.id} selected={i.id === selected}>
                    {i.hostname} ({i.id})
                  </option>
                ))}
              </select>
              {choices.more ? <span class="hint">Showing the first {choices.instances.length} instances: type part of a hostname to narrow the list.</span> : null}
              <FieldError errors={form.errors} name="instanceId" />
            </label>
            <noscript>
              <button type="submit" name="op" value="refresh" class="small">
                Show its choices
              </button>
            </noscript>
          </div>
        )}

        <h2>What</h2>
        <div class="form-row">
          <label>
            Name
            <input name="name" value={v("name")} maxlength={255} placeholder="www.example.com" aria-invalid={inv("name")} />
            <FieldError errors={form.errors} name="name" />
          </label>
          <label>
            Key type
            <select name="keyType" aria-invalid={inv("keyType")}>
              <option value="" selected={!v("keyType")}>
                default{choices.defaultKeyType ? ` (${choices.defaultKeyType}, from settings)` : " (from settings)"}
              </option>
              {KEY_TYPES.map((k) => (
                <option value={k} selected={v("keyType") === k}>
                  {k}
                </option>
              ))}
            </select>
            <FieldError errors={form.errors} name="keyType" />
          </label>
        </div>
        <label>
          Domains
          <textarea name="domains" rows={3} placeholder={"example.com\nwww.example.com"} aria-invalid={inv("domains")}>
            {v("domains")}
          </textarea>
          <span class="hint">One per line or a comma-separated list. A wildcard (*.example.com) needs a DNS-01 challenge.</span>
          <FieldError errors={form.errors} name="domains" />
        </label>
        <label>
          CA account
          <select name="caAccountId" aria-invalid={inv("caAccountId")}>
            <option value="" selected={!v("caAccountId")}>
              {choices.instance ? (choices.caAccounts.length ? "— pick a CA account —" : "no CA account is available to this instance") : "— pick the target instance first —"}
            </option>
            {choices.caAccounts.map((a) => (
              <option value={a.id} selected={v("caAccountId") === a.id}>
                {a.title} ({a.where})
              </option>
            ))}
          </select>
          {choices.instance && !choices.caAccounts.length ? (
            <span class="hint">
              Add one under <a href="/settings/ca-accounts">Settings › Certificate Authorities</a> for All instances, its group or this instance.
            </span>
          ) : null}
          <FieldError errors={form.errors} name="caAccountId" />
        </label>

        <h2>How the CA validates the domains</h2>
        <fieldset class="choice challenge-kinds">
          <legend>Challenge</legend>
          {CHALLENGE_KINDS.map((k) => (
            <label>
              <input type="radio" name="challenge.kind" value={k} checked={kind === k} /> {CHALLENGE_LABEL[k]}
            </label>
          ))}
          <FieldError errors={form.errors} name="challenge.kind" />
          <FieldError errors={form.errors} name="challenge" />
        </fieldset>
        <div class="ch ch-http-standalone form-row">
          <label>
            Listen address <span class="muted">(optional)</span>
            <input name="challenge.address" value={v("challenge.address")} placeholder="all addresses" aria-invalid={inv("challenge.address")} />
            <FieldError errors={form.errors} name="challenge.address" />
          </label>
          <label>
            Port
            <input name="challenge.port" type="number" min={1} max={65535} value={v("challenge.port")} placeholder="80" aria-invalid={inv("challenge.port")} />
            <span class="hint">The CA connects to port 80; use another port only behind a forward.</span>
            <FieldError errors={form.errors} name="challenge.port" />
          </label>
        </div>
        <div class="ch ch-http-webroot">
          <label>
            Web root
            <input name="challenge.webroot" value={v("challenge.webroot")} placeholder="/var/www/html" aria-invalid={inv("challenge.webroot")} />
            <span class="hint">The token file goes to .well-known/acme-challenge/ under it and is removed afterwards.</span>
            <FieldError errors={form.errors} name="challenge.webroot" />
          </label>
        </div>
        <div class="ch ch-dns-rfc2136">
          <div class="form-row">
            <label>
              DNS server
              <input name="challenge.server" value={v("challenge.server")} placeholder="ns1.example.com:53" aria-invalid={inv("challenge.server")} />
              <FieldError errors={form.errors} name="challenge.server" />
            </label>
            <label>
              Zone <span class="muted">(optional)</span>
              <input name="challenge.zone" value={v("challenge.zone")} placeholder="example.com" aria-invalid={inv("challenge.zone")} />
              <FieldError errors={form.errors} name="challenge.zone" />
            </label>
          </div>
          <label>
            TSIG key
            <select name="challenge.credentialId" aria-invalid={inv("challenge.credentialId")}>
              <option value="">{tsig.length ? "— pick a TSIG key —" : "no TSIG key is available to this instance"}</option>
              {tsig.map((x) => (
                <option value={x.id} selected={v("challenge.credentialId") === x.id}>
                  {x.title}
                </option>
              ))}
            </select>
            <span class="hint">
              A stored credential of type TSIG (<a href="/settings/credentials">Settings › Stored Credentials</a>).
            </span>
            <FieldError errors={form.errors} name="challenge.credentialId" />
          </label>
        </div>
        <div class="ch ch-dns-exec">
          <label>
            Hook command (absolute path)
            <input name="challenge.command" value={v("challenge.command")} placeholder="/usr/local/bin/dns-hook" aria-invalid={inv("challenge.command")} />
            <span class="hint">Called as “add” and “remove” with the record name and TXT value (lego's exec convention); only where the host allows scripts.</span>
            <FieldError errors={form.errors} name="challenge.command" />
          </label>
        </div>
        <div class="ch ch-dns-rfc2136 ch-dns-exec">
          <label>
            Wait for DNS propagation (seconds) <span class="muted">(optional)</span>
            <input name="challenge.propagationSeconds" type="number" min={0} max={3600} value={v("challenge.propagationSeconds")} aria-invalid={inv("challenge.propagationSeconds")} />
            <FieldError errors={form.errors} name="challenge.propagationSeconds" />
          </label>
        </div>

        <h2>After issuance</h2>
        <TaskEditor values={form.values} errors={form.errors} credentials={choices.credentials} />
        <fieldset class="choice">
          <legend>Check the served certificate (optional)</legend>
          <div class="form-row">
            <label>
              Host
              <input name="verify.host" value={v("verify.host")} placeholder="first domain" aria-invalid={inv("verify.host")} />
              <FieldError errors={form.errors} name="verify.host" />
            </label>
            <label>
              Port
              <input name="verify.port" type="number" min={1} max={65535} value={v("verify.port")} placeholder="443" aria-invalid={inv("verify.port")} />
              <FieldError errors={form.errors} name="verify.port" />
            </label>
          </div>
          <span class="hint">After the tasks the agent connects there (SNI set) and compares the served serial: served / stale / unreachable. A port without a host checks the first domain that is not a wildcard (e.g. 443).</span>
        </fieldset>
        <fieldset class="choice">
          <legend>Renewal (optional: overrides the settings for this certificate)</legend>
          <div class="form-row">
            <label>
              Days before expiry
              <input name="renewal.daysBeforeExpiry" type="number" min={1} max={365} value={v("renewal.daysBeforeExpiry")} placeholder="from settings" aria-invalid={inv("renewal.daysBeforeExpiry")} />
              <FieldError errors={form.errors} name="renewal.daysBeforeExpiry" />
            </label>
            <label>
              or % of the lifetime
              <input name="renewal.lifetimePercent" type="number" min={10} max={95} value={v("renewal.lifetimePercent")} placeholder="from settings (67)" aria-invalid={inv("renewal.lifetimePercent")} />
              <FieldError errors={form.errors} name="renewal.lifetimePercent" />
            </label>
          </div>
          <span class="hint">The CA's own renewal window (ARI) wins when it publishes one.</span>
        </fieldset>
        <div class="form-row">
          <label>
            Preferred chain <span class="muted">(optional: the issuer name of an alternate chain the CA offers)</span>
            <input name="preferredChain" value={v("preferredChain")} maxlength={255} aria-invalid={inv("preferredChain")} />
            <FieldError errors={form.errors} name="preferredChain" />
          </label>
          <label>
            ACME profile <span class="muted">(optional, where the CA offers profiles, e.g. shortlived)</span>
            <input name="profile" value={v("profile")} maxlength={64} aria-invalid={inv("profile")} />
            <FieldError errors={form.errors} name="profile" />
          </label>
        </div>
        <div class="dialog-actions">
          <a class="button" href={props.editing ? `/certificates/${props.editing.certId}` : "/certificates"}>
            Cancel
          </a>
          <button type="submit" class="primary" name="op" value="save">
            {props.editing ? "Save changes" : "Create certificate"}
          </button>
        </div>
      </form>
    </div>
  );
}
