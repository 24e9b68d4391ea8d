// Typed view of the settings the hub pushed (and update-settings commands set): every key of
// the SETTINGS registry, validated, with the registry's default where a value is missing or
// invalid. The agent reads settings only through here.
import { readSettings, type SettingValues } from "../protocol/settings";
import type { AgentStore } from "./db/store";

export type { SettingValues } from "../protocol/settings";

export async function agentSettings(store: AgentStore): Promise<SettingValues> {
  return readSettings(await store.getSettings());
}
