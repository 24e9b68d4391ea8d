// Query parameters shared by the scoped resources' lists: ?scope=&scopeId= (exactly that
// scope) or ?instanceId= (everything that instance can use: global, its group, itself).
import { z } from "zod";
import type { HubDb } from "../../db/client";
import { getInstance } from "../../db/instances";
import { notFound } from "../core/errors";
import { resolveScope, SCOPES, type InstanceScopeFacts, type Scope } from "../core/scope";

export const ScopeQuerySchema = z.object({
  scope: z.enum(SCOPES).optional(),
  scopeId: z.string().max(128).optional(),
  instanceId: z.string().max(64).optional(),
});

export async function scopeFilter(db: HubDb, q: z.infer<typeof ScopeQuerySchema>): Promise<{ scope?: Scope; instance?: InstanceScopeFacts }> {
  const out: { scope?: Scope; instance?: InstanceScopeFacts } = {};
  if (q.scope) out.scope = await resolveScope(db, { scope: q.scope, scopeId: q.scopeId });
  if (q.instanceId) {
    const inst = await getInstance(db, q.instanceId);
    if (!inst) throw notFound(`instance ${q.instanceId} not found`);
    out.instance = { id: inst.id, groupName: inst.groupName };
  }
  return out;
}
