// Settings › General (/settings): every key of the SETTINGS registry as a form field at the
// chosen scope. Each key can be set here or cleared back to inherit; the inherited value is
// shown with where it comes from (group, All instances, or the built-in default). The rules
// (allowed scopes, validation, nudging the affected instances) are src/hub/core/settings.ts.
import { Hono } from "hono";
import type { HubEnv } from "../../../context";
import { settingsAtScope, type SettingRow } from "../../../../db/settings";
import { canWrite } from "../../../../db/roles";
import { SETTING_KEYS, SETTINGS, isSettingKey, type SettingKey } from "../../../../protocol/settings";
import { setSetting, unsetSetting } from "../../../core/settings";
import { actorOf } from "../../../middleware/auth";
import { Csrf, FieldError, FormError, type FormState, isHtmx, readForm } from "../../components";
import { isoTime } from "../../format";
import { applyRuleError } from "../../rule-errors";
import { readScope, ScopeFields, scopeQuery, type ScopeState } from "../../scope-picker";
import { type Ctx, doneFlash, postedScope, redirectDone, SettingsPage } from "./page";

const PATH = "/settings";
const DONE = { saved: "Setting saved. The instances it applies to receive it at their next sync.", cleared: "Setting cleared: the inherited value applies again." };

/** A value as an admin reads it. */
export function showValue(key: string, v: unknown): string {
  if (v === undefined || v === null || v === "") return key === "defaultContactEmail" ? "(none)" : "—";
  if (key === "renewalLifetimePercent") return `${v} %`;
  if (key === "renewalDaysBeforeExpiry") return v === 0 ? "0 (off: use the lifetime share)" : `${v} days`;
  if (key === "externalScanIntervalMinutes") return `${v} min`;
  if (key === "externalManagers") {
    const entries = Object.entries(v as Record<string, { enabled?: boolean; configPath?: string }>);
    if (!entries.length) return "all clients enabled, default paths";
    return entries.map(([name, e]) => `${name}: ${e.enabled === false ? "off" : "on"}${e.configPath ? ` (${e.configPath})` : ""}`).join("; ");
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}

const parse = (row: SettingRow): unknown => row.value;

export interface Inherited {
  value: unknown;
  /** "built-in default", "All instances", "group “web”". */
  from: string;
}

/** Own values at the scope and, per key, what applies when the scope sets nothing. */
export async function loadScopeValues(c: Ctx, s: ScopeState) {
  const { db } = c.get("deps");
  const wider: { label: string; scope: { scope: "global" | "group"; scopeId: string } }[] = [];
  if (s.scope.scope === "instance" && s.instance?.groupName) wider.push({ label: `group “${s.instance.groupName}”`, scope: { scope: "group", scopeId: s.instance.groupName } });
  if (s.scope.scope !== "global") wider.push({ label: "All instances", scope: { scope: "global", scopeId: "" } });
  const [own, ...widerRows] = await Promise.all([settingsAtScope(db, s.scope), ...wider.map((w) => settingsAtScope(db, w.scope))]);
  const ownMap = new Map(own.map((r) => [r.key, r]));
  const inherited = new Map<string, Inherited>();
  for (const key of SETTING_KEYS) {
    let found: Inherited = { value: SETTINGS[key].default, from: "built-in default" };
    for (let i = 0; i < wider.length; i++) {
      const row = widerRows[i].find((r) => r.key === key);
      if (row && SETTINGS[key].schema.safeParse(parse(row)).success) {
        found = { value: parse(row), from: wider[i].label };
        break;
      }
    }
    inherited.set(key, found);
  }
  return { own: ownMap, inherited, parse };
}

/** How a registry entry is edited, read from its schema: a new key gets a fitting field by itself. */
function fieldKind(k: SettingKey): { kind: "number"; min?: number; max?: number } | { kind: "enum"; options: readonly string[] } | { kind: "text" } | { kind: "json" } {
  const schema = SETTINGS[k].schema as unknown as { def?: { type?: string }; minValue?: number | null; maxValue?: number | null; options?: readonly string[] };
  const type = schema.def?.type;
  if (type === "number") return { kind: "number", min: schema.minValue ?? undefined, max: schema.maxValue ?? undefined };
  if (type === "enum" && schema.options) return { kind: "enum", options: schema.options };
  if (type === "string") return { kind: "text" };
  return { kind: "json" };
}

function ValueInput(props: { k: SettingKey; value: string; invalid: boolean; disabled: boolean }) {
  const { k } = props;
  const common = { name: "value", id: `value-${k}`, "aria-invalid": props.invalid ? "true" : undefined, disabled: props.disabled };
  const f = fieldKind(k);
  if (f.kind === "enum") {
    return (
      <select {...common}>
        {f.options.map((t) => (
          <option value={t} selected={props.value === t}>
            {t}
          </option>
        ))}
      </select>
    );
  }
  if (f.kind === "number") return <input {...common} type="number" min={f.min} max={f.max} value={props.value} />;
  if (f.kind === "text") return <input {...common} type={k.toLowerCase().includes("email") ? "email" : "text"} maxlength={1024} value={props.value} />;
  // A structured value without a dedicated page: its JSON.
  return (
    <textarea {...common} rows={2}>
      {props.value}
    </textarea>
  );
}

/** One key's form: its own value at this scope (or the inherited one), Save and Clear. */
export function SettingForm(props: { c: Ctx; s: ScopeState; k: SettingKey; own?: { value: unknown; updatedAt: number; updatedBy: string | null }; inherited: Inherited; form?: FormState }) {
  const { c, s, k, own, inherited } = props;
  const def = SETTINGS[k];
  const auth = c.get("auth");
  const write = canWrite(auth.roles);
  const allowed = (def.scopes as readonly string[]).includes(s.scope.scope);
  const form = props.form ?? { values: {}, errors: {} };
  const typed = form.values.value;
  const shown = typeof typed === "string" ? typed : own ? (typeof own.value === "string" ? own.value : JSON.stringify(own.value)) : typeof inherited.value === "string" ? inherited.value : JSON.stringify(inherited.value);
  const url = `${PATH}/general/${k}`;
  return (
    <div class="form-host setting" id={`setting-${k}`}>
      <form method="post" action={url} hx-post={url} hx-target="closest .form-host" hx-swap="outerHTML" novalidate>
        <Csrf auth={auth} />
        <ScopeFields scope={s.scope} />
        <label for={`value-${k}`}>
          {def.label} {own ? <span class="badge active">set here</span> : <span class="badge">inherited</span>}
        </label>
        <span class="hint">{def.help}</span>
        <FormError form={form} />
        <div class="setting-row">
          <ValueInput k={k} value={shown} invalid={!!form.errors.value} disabled={!write || !allowed} />
          {write && allowed ? (
            <>
              <button type="submit" class="small primary" name="op" value="set">
                Save
              </button>
              {own ? (
                <button type="submit" class="small" name="op" value="clear">
                  Clear (inherit)
                </button>
              ) : null}
            </>
          ) : null}
        </div>
        <FieldError errors={form.errors} name="value" />
        <p class="muted small-print">
          {own ? (
            <>
              Set here {own.updatedBy ? `by ${own.updatedBy} ` : ""}on {isoTime(own.updatedAt)}. Without it: {showValue(k, inherited.value)} (from {inherited.from}).
            </>
          ) : (
            <>
              Inherited: <strong>{showValue(k, inherited.value)}</strong> from {inherited.from}.
            </>
          )}
          {!allowed ? ` This setting cannot be set for ${s.label}.` : ""}
        </p>
      </form>
    </div>
  );
}

/** A posted value as the registry expects it: numbers for number keys, JSON for structured ones. */
function coerce(k: SettingKey, raw: string): unknown {
  const t = raw.trim();
  const f = fieldKind(k);
  if (f.kind === "number") return /^-?\d+$/.test(t) ? Number(t) : t;
  if (f.kind === "enum" || f.kind === "text") return t;
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

export const generalSettingsPages = new Hono<HubEnv>()
  .get(PATH, async (c) => {
    const s = await readScope(c);
    const v = await loadScopeValues(c, s);
    const own = (k: string) => {
      const r = v.own.get(k);
      return r ? { value: v.parse(r), updatedAt: r.updatedAt, updatedBy: r.updatedBy } : undefined;
    };
    return c.html(
      <SettingsPage c={c} title="Settings › General" active="settings" path={PATH} s={s} flash={doneFlash(c, DONE)} intro="Plain settings for certificates, at the chosen scope. Each instance uses the narrowest value that applies to it; its page shows each effective value and where it came from.">
        <div class="card settings-list">
          {SETTING_KEYS.filter((k) => k !== "externalManagers").map((k) => (
            <SettingForm c={c} s={s} k={k} own={own(k)} inherited={v.inherited.get(k)!} />
          ))}
          <div class="setting">
            <strong>{SETTINGS.externalManagers.label}</strong> {own("externalManagers") ? <span class="badge active">set here</span> : <span class="badge">inherited</span>}
            <p class="muted small-print">
              {showValue("externalManagers", own("externalManagers")?.value ?? v.inherited.get("externalManagers")!.value)} —{" "}
              <a href={`/settings/external-managers${scopeQuery(s.scope)}`}>edit on External Certificate Managers</a>
            </p>
          </div>
        </div>
      </SettingsPage>,
    );
  })
  .post(`${PATH}/general/:key`, async (c) => {
    const rawKey = c.req.param("key");
    if (!isSettingKey(rawKey)) return c.text(`Unknown setting "${rawKey.slice(0, 64)}".`, 404);
    const k = rawKey;
    const f = await readForm(c);
    const s = await readScope(c, postedScope(f));
    if (s.problem) return c.text(s.problem, 422);
    const core = c.get("deps");
    const form: FormState = { values: { value: f.one("value") }, errors: {} };
    try {
      if (f.one("op") === "clear") {
        await unsetSetting(core, actorOf(c), k, s.scope);
        return redirectDone(c, PATH, s.scope, "cleared");
      }
      await setSetting(core, actorOf(c), k, s.scope, coerce(k, f.one("value")));
      return redirectDone(c, PATH, s.scope, "saved");
    } catch (err) {
      applyRuleError(form, err, (field) => field === "value");
    }
    const v = await loadScopeValues(c, s);
    const r = v.own.get(k);
    const own = r ? { value: v.parse(r), updatedAt: r.updatedAt, updatedBy: r.updatedBy } : undefined;
    const fragment = <SettingForm c={c} s={s} k={k} own={own} inherited={v.inherited.get(k)!} form={form} />;
    if (isHtmx(c)) return c.html(fragment, 422);
    return c.html(
      <SettingsPage c={c} title="Settings › General" active="settings" path={PATH} s={s}>
        <div class="card settings-list">{fragment}</div>
        <p>
          <a href={`${PATH}${scopeQuery(s.scope)}`}>‹ All general settings</a>
        </p>
      </SettingsPage>,
      422,
    );
  });
