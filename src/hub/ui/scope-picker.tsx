// The scope picker at the top of the scoped Settings pages: All instances, a group (the group
// of a joining key) or one instance (the searchable Target Instance selector: a bounded page
// of matches, never the whole fleet; a search is the Instances page's own, so hostname, display
// name, id, labels, group and joining key all find one). The chosen scope lives in the query string
// (?scope=group&group=… / ?scope=instance&instance=…; a bare ?instance= still means that
// instance), so links and reloads keep it.
import type { Context } from "hono";
import type { HubDb } from "../../db/client";
import { getInstance, listInstanceChoices, listInstances } from "../../db/instances";
import { knownGroupNames } from "../../db/api-tokens";
import type { HubEnv } from "../context";
import type { Scope } from "../core/scope";
import { qs } from "./format";

type Ctx = Context<HubEnv>;

/** One instance offered in a picker. */
export interface InstanceChoice {
  id: string;
  hostname: string;
  displayName?: string | null;
}

/** Matches of a Find instance search: at most a page of them; `more` when the fleet has others. */
export interface InstanceSearch {
  find: string;
  choices: InstanceChoice[];
  more: boolean;
}

/** How many instances a picker offers at once (search to reach the rest). */
export const PICKER_LIMIT = 100;

/**
 * Instances for a picker: with a search, the Instances page's search (hostname, display name,
 * id, labels, group, joining key), else the first by hostname; never more than `limit`.
 */
export async function instanceChoices(db: HubDb, find: string | undefined, limit = PICKER_LIMIT): Promise<{ rows: InstanceChoice[]; more: boolean }> {
  if (!find) return listInstanceChoices(db, { limit });
  const { rows, total } = await listInstances(db, { q: find, limit });
  return { rows: rows.map((r) => ({ id: r.instance.id, hostname: r.instance.hostname, displayName: r.instance.displayName })), more: total > rows.length };
}

/** "web-01 (inst_…)", with the display name when it has one: "web-01 — Payroll (inst_…)". */
export function choiceLabel(i: InstanceChoice): string {
  return `${i.hostname}${i.displayName ? ` — ${i.displayName}` : ""} (${i.id})`;
}

export interface ScopeState {
  scope: { scope: Scope["scope"]; scopeId: string };
  /** "All instances", "group “web”", "instance web-01 (inst_…)". */
  label: string;
  /** The selected instance (instance scope), for inherited values. */
  instance?: { id: string; hostname: string; groupName: string | null };
  groups: string[];
  choices: InstanceChoice[];
  more: boolean;
  find?: string;
  /** A move form's own Find instance search (settings/move-scope.tsx), for the form it was typed in. */
  moveSearch?: InstanceSearch;
  /** Why the requested scope could not be used (unknown instance, no instances yet). */
  problem?: string;
}

/** Query string that keeps this scope ("" for All instances). */
export function scopeQuery(s: Scope, extra: Record<string, string | undefined> = {}): string {
  if (s.scope === "group") return qs({ scope: "group", group: s.scopeId, ...extra });
  if (s.scope === "instance") return qs({ scope: "instance", instance: s.scopeId, ...extra });
  return qs(extra);
}

/** Hidden inputs that carry the scope in a POST form. */
export function ScopeFields(props: { scope: Scope }) {
  return (
    <>
      <input type="hidden" name="scope" value={props.scope.scope} />
      <input type="hidden" name="scopeId" value={props.scope.scopeId} />
    </>
  );
}

/** Group names known to the hub: joining keys' groups and joined instances' groups. */
export async function knownGroups(c: Ctx, limit = 500): Promise<string[]> {
  return knownGroupNames(c.get("deps").db, limit);
}

async function postedScopeExists(c: Ctx, posted: { scope: string; scopeId: string }): Promise<boolean> {
  if (posted.scope === "global") return posted.scopeId === "";
  if (posted.scope === "group") return posted.scopeId !== "";
  if (posted.scope === "instance") return posted.scopeId !== "" && !!(await getInstance(c.get("deps").db, posted.scopeId));
  return false;
}

/** Reads the scope from the query string (or a posted form's scope/scopeId). */
export async function readScope(c: Ctx, posted?: { scope: string; scopeId: string }): Promise<ScopeState> {
  const { db } = c.get("deps");
  const find = c.req.query("find")?.trim().slice(0, 100) || undefined;
  let kind = posted?.scope ?? c.req.query("scope");
  const wantedInstance = posted ? (posted.scope === "instance" ? posted.scopeId : undefined) : c.req.query("instance")?.trim();
  const wantedGroup = posted ? (posted.scope === "group" ? posted.scopeId : undefined) : c.req.query("group")?.trim();
  if (!kind) kind = wantedInstance ? "instance" : wantedGroup ? "group" : "global";
  const [groups, { rows: choices, more }] = await Promise.all([knownGroups(c), instanceChoices(db, find)]);
  const base = { groups, choices, more, find };
  // A posted scope is taken as posted (the rules refuse an unknown instance or an empty group):
  // a write must never land on a wider scope than the one the form showed.
  if (posted && !(await postedScopeExists(c, posted))) {
    return { ...base, scope: { scope: "instance", scopeId: posted.scopeId }, label: `${posted.scope} “${posted.scopeId}”`, problem: `There is no ${posted.scope || "scope"} “${posted.scopeId}” any more: reload the page and pick the scope again.` };
  }
  if (kind === "group") {
    const group = (wantedGroup ?? "").slice(0, 128) || groups[0];
    if (!group) return { ...base, scope: { scope: "global", scopeId: "" }, label: "All instances", problem: "No groups exist yet: a group is given to a joining key under Security › API Access." };
    return { ...base, scope: { scope: "group", scopeId: group }, label: `group “${group}”` };
  }
  if (kind === "instance") {
    const row = wantedInstance ? await getInstance(db, wantedInstance.slice(0, 64)) : choices[0] ? await getInstance(db, choices[0].id) : undefined;
    if (!row) {
      const problem = wantedInstance ? `No instance with id ${wantedInstance.slice(0, 64)}; showing All instances.` : "No instances have joined yet; showing All instances.";
      return { ...base, scope: { scope: "global", scopeId: "" }, label: "All instances", problem };
    }
    if (!choices.some((i) => i.id === row.id)) choices.unshift({ id: row.id, hostname: row.hostname });
    return {
      ...base,
      scope: { scope: "instance", scopeId: row.id },
      label: `instance ${row.hostname} (${row.id})`,
      instance: { id: row.id, hostname: row.hostname, groupName: row.groupName },
    };
  }
  return { ...base, scope: { scope: "global", scopeId: "" }, label: "All instances" };
}

/**
 * The picker: a GET form for `path`. Any change reloads the page for the new scope (htmx
 * swaps the body and pushes the URL; without JavaScript the Show button does it).
 */
export function ScopePicker(props: { s: ScopeState; path: string }) {
  const { s } = props;
  const kind = s.scope.scope;
  return (
    <form method="get" action={props.path} class="card scope-picker" id="scope-picker" hx-get={props.path} hx-target="body" hx-swap="innerHTML" hx-push-url="true" hx-trigger="change, submit">
      <fieldset class="choice scope-choice">
        <legend>Applies to</legend>
        <label>
          <input type="radio" name="scope" value="global" checked={kind === "global"} /> All instances
        </label>
        <label>
          <input type="radio" name="scope" value="group" checked={kind === "group"} disabled={s.groups.length === 0} /> Group{" "}
          <select name="group" aria-label="Group" disabled={s.groups.length === 0}>
            {s.groups.length === 0 ? <option value="">no groups yet</option> : null}
            {s.groups.map((g) => (
              <option value={g} selected={kind === "group" && s.scope.scopeId === g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <label class="scope-instance" id="target-instance">
          <input type="radio" name="scope" value="instance" checked={kind === "instance"} disabled={s.choices.length === 0 && !s.find} /> Target Instance{" "}
          <input type="search" name="find" value={s.find ?? ""} placeholder="Find by hostname, name or id" aria-label="Find instance" maxlength={100} />
          <select name="instance" aria-label="Target Instance">
            {s.choices.map((i) => (
              <option value={i.id} selected={kind === "instance" && i.id === s.scope.scopeId}>
                {choiceLabel(i)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="small">
          Show
        </button>
      </fieldset>
      {s.choices.length === 0 && !s.find ? (
        <p class="muted small-print">
          No instances have joined yet: the Target Instance choice appears once one joins (<a href="/">the Dashboard</a> shows how).
        </p>
      ) : null}
      {s.more ? <p class="muted small-print">Showing the first {s.choices.length} instances; type part of a hostname to narrow the list.</p> : null}
      {s.find && s.choices.length === 0 ? <p class="alert warning">No instance matches “{s.find}”.</p> : null}
      {s.problem ? <p class="alert warning">{s.problem}</p> : null}
      <p class="scope-now">
        Showing settings for <strong>{s.label}</strong>
        {s.instance ? (
          <>
            {" "}
            · <a href={`/instances/${s.instance.id}`}>instance page</a>
            {s.instance.groupName ? <span class="muted"> · group {s.instance.groupName}</span> : null}
          </>
        ) : null}
        . The narrowest scope wins: an instance's own value over its group's, a group's over All instances.
      </p>
    </form>
  );
}
