// Scopes shared by every scoped object (settings, stored credentials, CA accounts): all
// instances ("global"), a group (the joining key's group) or one instance. An instance uses
// the objects of the scopes that apply to it; for a setting the narrowest (highest rank) wins.
import { z } from "zod";
import type { HubDb } from "../../db/client";
import { getInstance } from "../../db/instances";
import { SCOPES, type ScopeKind } from "../../protocol/settings";
import { badRequest } from "./errors";

export { SCOPES, type ScopeKind };

/** As stored: scopeId is "" for global, the group name, or the instance id. */
export interface Scope {
  scope: ScopeKind;
  scopeId: string;
}

export interface InstanceScopeFacts {
  id: string;
  groupName: string | null;
}

/** The wire form: `{"scope", "scopeId"?}`. */
export const ScopeInputSchema = z.object({
  scope: z.enum(SCOPES),
  scopeId: z.string().trim().max(128).optional(),
});
export type ScopeInput = z.infer<typeof ScopeInputSchema>;

export const GLOBAL: Scope = { scope: "global", scopeId: "" };

export const rank = (s: ScopeKind | "default"): number => ({ default: -1, global: 0, group: 1, instance: 2 })[s];

/** Normalises and checks a scope from a request: a group needs a name, an instance must exist. */
export async function resolveScope(db: HubDb, input: ScopeInput): Promise<Scope> {
  if (input.scope === "global") {
    if (input.scopeId) throw badRequest('scopeId must be absent for scope "global"', "scopeId");
    return GLOBAL;
  }
  if (!input.scopeId) throw badRequest(`scope "${input.scope}" needs a scopeId (${input.scope === "group" ? "the group name" : "the instance id"})`, "scopeId");
  if (input.scope === "instance" && !(await getInstance(db, input.scopeId))) throw badRequest(`no instance with id ${input.scopeId}`, "scopeId");
  return { scope: input.scope, scopeId: input.scopeId };
}

/** The scopes whose objects an instance uses, widest first. */
export function scopesOf(inst: InstanceScopeFacts): Scope[] {
  const out: Scope[] = [GLOBAL];
  if (inst.groupName) out.push({ scope: "group", scopeId: inst.groupName });
  out.push({ scope: "instance", scopeId: inst.id });
  return out;
}

export function appliesTo(s: Scope, inst: InstanceScopeFacts): boolean {
  if (s.scope === "global") return true;
  if (s.scope === "group") return inst.groupName !== null && s.scopeId === inst.groupName;
  return s.scopeId === inst.id;
}

/** The instances a change at this scope reaches, in the fleet service's terms. */
export function fleetTarget(s: Scope): "all" | { group: string } | { instanceId: string } {
  return s.scope === "global" ? "all" : s.scope === "group" ? { group: s.scopeId } : { instanceId: s.scopeId };
}

/** A scope as one string ("global:", "group:<name>", "instance:<id>"): config cache and change feed key. */
export function scopeKey(s: Scope): string {
  return `${s.scope}:${s.scopeId}`;
}

/** JSON form: scopeId absent for global. */
export function scopeView(s: Scope): { scope: ScopeKind; scopeId?: string } {
  return s.scope === "global" ? { scope: "global" } : { scope: s.scope, scopeId: s.scopeId };
}

export function describeScope(s: Scope): string {
  return s.scope === "global" ? "all instances" : s.scope === "group" ? `group "${s.scopeId}"` : `instance ${s.scopeId}`;
}
