// Settings › External Certificate Managers (/settings/external-managers): which external ACME
// clients (certbot, acme.sh, Posh-ACME, simple-acme, win-acme) the agents scan, and where, at
// the chosen scope, with each client's default paths. The value is one setting
// ("externalManagers") covering all five clients: a scope that sets it replaces the inherited
// value as a whole, so the form starts from the inherited value. For one instance the page
// also shows what its agent last found, with problems and "Refresh now".
import { Hono } from "hono";
import { canWrite } from "../../../../db/roles";
import { EXTERNAL_MANAGERS, type ExternalManagerName } from "../../../../protocol/certificates";
import { ExternalManagersSettingSchema, type ExternalManagersSetting } from "../../../../protocol/settings";
import type { HubEnv } from "../../../context";
import { externalManagersView } from "../../../core/external-managers";
import { setSetting, unsetSetting } from "../../../core/settings";
import { actorOf } from "../../../middleware/auth";
import { Csrf, FieldError, FormError, type FormState, isHtmx, readForm, valueOf } from "../../components";
import { applyRuleError, zodFieldErrors } from "../../rule-errors";
import { readScope, ScopeFields, type ScopeState } from "../../scope-picker";
import { ExternalManagersStatus } from "../instance-certificates";
import { loadScopeValues } from "./general";
import { type Ctx, doneFlash, postedScope, redirectDone, SettingsPage } from "./page";

const PATH = "/settings/external-managers";
const DONE = { saved: "Saved. Agents rescan with the new settings after their next sync.", cleared: "Cleared: the inherited value applies again." };

export const CLIENT_LABEL: Record<ExternalManagerName, string> = {
  certbot: "certbot",
  "acme.sh": "acme.sh",
  "posh-acme": "Posh-ACME",
  "simple-acme": "simple-acme",
  "win-acme": "win-acme",
};

/** Where each client is looked for when no path is configured (src/agent/external/paths.ts). */
export const CLIENT_DEFAULTS: Record<ExternalManagerName, string> = {
  certbot: "/etc/letsencrypt, logs in /var/log/letsencrypt (Windows: C:\\Certbot)",
  "acme.sh": "~/.acme.sh of the agent's user, plus /root/.acme.sh when the agent runs as root",
  "posh-acme": "%LOCALAPPDATA%\\Posh-ACME on Windows; elsewhere $POSHACME_HOME or ~/.config/Posh-ACME",
  "simple-acme": "%PROGRAMDATA%\\simple-acme on Windows (Linux: /usr/share/simple-acme as root)",
  "win-acme": "%PROGRAMDATA%\\win-acme on Windows only: elsewhere set a path to a mounted or copied tree",
};

function ManagersForm(props: { c: Ctx; s: ScopeState; own?: ExternalManagersSetting; inherited: { value: ExternalManagersSetting; from: string }; form?: FormState }) {
  const { c, s, own, inherited } = props;
  const form = props.form;
  const write = canWrite(c.get("auth").roles);
  const start = own ?? inherited.value;
  const enabled = (n: ExternalManagerName) => (form ? valueOf(form, `${n}.enabled`) === "on" : start[n]?.enabled !== false);
  const val = (n: ExternalManagerName, f: "configPath" | "logPath") => (form ? valueOf(form, `${n}.${f}`) : (start[n]?.[f] ?? ""));
  const errors = form?.errors ?? {};
  return (
    <div class="form-host" id="external-managers-form">
      <form method="post" action={PATH} hx-post={PATH} hx-target="closest .form-host" hx-swap="outerHTML" novalidate>
        <Csrf auth={c.get("auth")} />
        <ScopeFields scope={s.scope} />
        {form ? <FormError form={form} /> : null}
        <p class="muted">
          {own ? (
            <>
              <span class="badge active">set here</span> for {s.label}. Clear it to inherit from {inherited.from} again.
            </>
          ) : (
            <>
              <span class="badge">inherited</span> from {inherited.from}. Saving sets all five clients for {s.label}.
            </>
          )}
        </p>
        <table class="external-managers">
          <thead>
            <tr>
              <th>Client</th>
              <th>Scan</th>
              <th>Config path</th>
              <th>Log path</th>
            </tr>
          </thead>
          <tbody>
            {EXTERNAL_MANAGERS.map((n) => (
              <tr data-client={n}>
                <td>
                  <strong>{CLIENT_LABEL[n]}</strong>
                  <div class="detail">Default: {CLIENT_DEFAULTS[n]}</div>
                </td>
                <td>
                  <label class="check">
                    <input type="checkbox" name={`${n}.enabled`} checked={enabled(n)} disabled={!write} /> enabled
                  </label>
                </td>
                <td>
                  <input name={`${n}.configPath`} value={val(n, "configPath")} placeholder="default" maxlength={1024} disabled={!write} aria-label={`${CLIENT_LABEL[n]} config path`} aria-invalid={errors[`${n}.configPath`] ? "true" : undefined} />
                  <FieldError errors={errors} name={`${n}.configPath`} />
                </td>
                <td>
                  <input name={`${n}.logPath`} value={val(n, "logPath")} placeholder="default" maxlength={1024} disabled={!write} aria-label={`${CLIENT_LABEL[n]} log path`} aria-invalid={errors[`${n}.logPath`] ? "true" : undefined} />
                  <FieldError errors={errors} name={`${n}.logPath`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {write ? (
          <div class="actions form-actions">
            <button type="submit" class="primary" name="op" value="set">
              Save for {s.label}
            </button>
            {own ? (
              <button type="submit" name="op" value="clear">
                Clear (inherit)
              </button>
            ) : null}
          </div>
        ) : (
          <p class="muted">Read-only access: you can view these settings but not change them.</p>
        )}
      </form>
    </div>
  );
}

async function load(c: Ctx, s: ScopeState) {
  const v = await loadScopeValues(c, s);
  const row = v.own.get("externalManagers");
  const parsed = row ? ExternalManagersSettingSchema.safeParse(v.parse(row)) : undefined;
  const inh = v.inherited.get("externalManagers")!;
  return { own: parsed?.success ? parsed.data : undefined, inherited: { value: inh.value as ExternalManagersSetting, from: inh.from } };
}

async function page(c: Ctx, s: ScopeState, form?: FormState, status: 200 | 422 = 200) {
  const data = await load(c, s);
  const status2 = s.instance ? await externalManagersView(c.get("deps"), s.instance) : undefined;
  return c.html(
    <SettingsPage
      c={c}
      title="Settings › External Certificate Managers"
      active="external-managers"
      path={PATH}
      s={s}
      flash={doneFlash(c, DONE)}
      intro="Agents also report the certificates other ACME clients on their host manage, read-only, so the Certificates page shows the whole fleet. Turn clients off or point them at other paths here."
    >
      <ManagersForm c={c} s={s} own={data.own} inherited={data.inherited} form={form} />
      {s.instance && status2 ? (
        <>
          <h2>What {s.instance.hostname} found</h2>
          <ExternalManagersStatus c={c} instanceId={s.instance.id} managers={status2} />
        </>
      ) : null}
    </SettingsPage>,
    status,
  );
}

export const externalManagerPages = new Hono<HubEnv>()
  .get(PATH, async (c) => page(c, await readScope(c)))
  .post(PATH, async (c) => {
    const f = await readForm(c);
    const s = await readScope(c, postedScope(f));
    if (s.problem) return c.text(s.problem, 422);
    const core = c.get("deps");
    const form: FormState = { values: f.values, errors: {} };
    try {
      if (f.one("op") === "clear") {
        await unsetSetting(core, actorOf(c), "externalManagers", s.scope);
        return redirectDone(c, PATH, s.scope, "cleared");
      }
      // A client that is enabled with default paths is left out: it keeps its defaults.
      const value: Record<string, { enabled: boolean; configPath?: string; logPath?: string }> = {};
      for (const n of EXTERNAL_MANAGERS) {
        const enabled = f.one(`${n}.enabled`) === "on";
        const configPath = f.one(`${n}.configPath`).trim();
        const logPath = f.one(`${n}.logPath`).trim();
        if (enabled && !configPath && !logPath) continue;
        value[n] = { enabled, ...(configPath ? { configPath } : {}), ...(logPath ? { logPath } : {}) };
      }
      const checked = ExternalManagersSettingSchema.safeParse(value);
      if (!checked.success) Object.assign(form.errors, zodFieldErrors(checked.error));
      else {
        await setSetting(core, actorOf(c), "externalManagers", s.scope, checked.data);
        return redirectDone(c, PATH, s.scope, "saved");
      }
    } catch (err) {
      applyRuleError(form, err, () => false);
    }
    if (isHtmx(c)) {
      const data = await load(c, s);
      return c.html(<ManagersForm c={c} s={s} own={data.own} inherited={data.inherited} form={form} />, 422);
    }
    return page(c, s, form, 422);
  });
