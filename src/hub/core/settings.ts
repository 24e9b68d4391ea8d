// Settings at three scopes: set/unset a registry key at a scope (validated by the SETTINGS
// registry: schema and allowed scopes), list a scope's own values, and resolve the effective
// value per instance with the scope it came from (narrowest wins; else the registry default).
import { audit, type Actor } from "../../db/audit";
import { deleteSetting, putSetting, settingsAtScope, settingsOfInstance, type SettingRow } from "../../db/settings";
import { isSettingKey, SETTING_KEYS, SETTINGS, type SettingKey } from "../../protocol/settings";
import type { CoreDeps } from "./deps";
import { badRequest, describeZodError, notFound } from "./errors";
import { fleetTarget, rank, resolveScope, scopeKey, scopeView, type InstanceScopeFacts, type Scope, type ScopeInput, type ScopeKind } from "./scope";

export type Origin = ScopeKind | "default";

export interface EffectiveSetting {
  key: SettingKey;
  label: string;
  value: unknown;
  /** Where the value came from: the narrowest scope that sets it, or the registry default. */
  scope: Origin;
  scopeId?: string;
}

function checkKey(key: string): SettingKey {
  if (!isSettingKey(key)) throw badRequest(`unknown setting "${key}" (known: ${SETTING_KEYS.join(", ")})`, "key");
  return key;
}

function checkScopeAllowed(key: SettingKey, s: Scope) {
  const allowed = SETTINGS[key].scopes as readonly ScopeKind[];
  if (!allowed.includes(s.scope)) throw badRequest(`setting "${key}" cannot be set at scope "${s.scope}" (allowed: ${allowed.join(", ")})`, "scope");
}

/** The stored value (drizzle parses the JSON); still checked against the registry where used. */
function parseStored(row: SettingRow): unknown {
  return row.value;
}

export function settingView(row: SettingRow) {
  return { key: row.key, value: parseStored(row), ...scopeView(row), updatedAt: row.updatedAt, updatedBy: row.updatedBy };
}

export async function setSetting(core: CoreDeps, actor: Actor, rawKey: string, scopeInput: ScopeInput, value: unknown) {
  const key = checkKey(rawKey);
  const s = await resolveScope(core.db, scopeInput);
  checkScopeAllowed(key, s);
  const parsed = SETTINGS[key].schema.safeParse(value);
  if (!parsed.success) throw badRequest(`invalid value for "${key}": ${describeZodError(parsed.error)}`, "value");
  const row = await putSetting(core.db, s, key, parsed.data, actor.label);
  await audit(core.db, actor, "setting.set", { type: "setting", id: key }, { ...scopeView(s), value: parsed.data });
  await core.fleet.settingsChanged(fleetTarget(s), { scopes: [scopeKey(s)] });
  return settingView(row);
}

export async function unsetSetting(core: CoreDeps, actor: Actor, rawKey: string, scopeInput: ScopeInput) {
  const key = checkKey(rawKey);
  const s = await resolveScope(core.db, scopeInput);
  if (!(await deleteSetting(core.db, s, key))) throw notFound(`setting "${key}" is not set at this scope`);
  await audit(core.db, actor, "setting.unset", { type: "setting", id: key }, scopeView(s));
  await core.fleet.settingsChanged(fleetTarget(s), { scopes: [scopeKey(s)] });
}

export async function listScopeSettings(core: Pick<CoreDeps, "db">, scopeInput: ScopeInput) {
  const s = await resolveScope(core.db, scopeInput);
  return (await settingsAtScope(core.db, s)).map(settingView);
}

/** Every registry key with its effective value for the instance and its origin. */
export async function effectiveSettings(core: Pick<CoreDeps, "db">, inst: InstanceScopeFacts): Promise<EffectiveSetting[]> {
  const rows = await settingsOfInstance(core.db, inst);
  rows.sort((a, b) => rank(a.scope) - rank(b.scope));
  const winner = new Map<string, SettingRow>();
  for (const r of rows) {
    // A value that no longer passes the registry (key's schema tightened) is skipped, not sent.
    if (isSettingKey(r.key) && SETTINGS[r.key].schema.safeParse(parseStored(r)).success) winner.set(r.key, r);
  }
  return SETTING_KEYS.map((key) => {
    const r = winner.get(key);
    const label = SETTINGS[key].label;
    if (!r) return { key, label, value: SETTINGS[key].default, scope: "default" as const };
    const value = SETTINGS[key].schema.parse(parseStored(r));
    return { key, label, value, ...scopeView(r) };
  });
}

export async function effectiveValues(core: Pick<CoreDeps, "db">, inst: InstanceScopeFacts): Promise<Record<string, unknown>> {
  return Object.fromEntries((await effectiveSettings(core, inst)).map((e) => [e.key, e.value]));
}
