// The admin's actions on joined instances, written once for the JSON API, the pages and the
// certificate rules: queue a command (the revoked / cut-off / scripts / payload rule in
// command-rules.ts), revoke, reinstate, remove, rename, reset identity. Each checks its
// preconditions, writes through the fleet service (the only writer of `instances`, which keeps
// caches and long-polls coherent) and audits. Refusals are RuleErrors.
import { audit, type Actor } from "../../db/audit";
import { getInstance, getInstanceView } from "../../db/instances";
import type { CommandType } from "../../protocol";
import { checkCommand } from "./command-rules";
import type { CoreDeps } from "./deps";
import { conflict, notFound } from "./errors";

type Deps = Pick<CoreDeps, "db" | "fleet">;

const NOT_FOUND = "instance not found";

/** Queues a command after the one rule; null when the instance does not exist. */
export async function queueCommand(core: Deps, instanceId: string, type: CommandType, payload: unknown, actor: Actor): Promise<{ id: string; seq: number } | null> {
  const row = await getInstanceView(core.db, instanceId);
  if (!row) return null;
  const checked = checkCommand(row.instance, { state: row.keyState, clientId: row.keyClientId, title: row.keyTitle }, type, payload);
  const res = await core.fleet.addCommand(instanceId, type, checked, actor.label);
  if (!res) return null;
  await audit(core.db, actor, "instance.command", { type: "instance", id: instanceId }, { type, commandId: res.id, seq: res.seq });
  return res;
}

/** Cuts the instance off: its next request is refused and its long-poll ends now. */
export async function revokeInstance(core: Deps, id: string, actor: Actor): Promise<void> {
  if (!(await core.fleet.updateInstance(id, { state: "revoked" }, { nudge: true }))) throw notFound(NOT_FOUND);
  await audit(core.db, actor, "instance.revoke", { type: "instance", id });
}

export async function reinstateInstance(core: Deps, id: string, actor: Actor): Promise<void> {
  const row = await getInstance(core.db, id);
  if (!row) throw notFound(NOT_FOUND);
  // Only a revoked instance gets the mark: it is shown as not yet reconnected until its next sync.
  const patch = row.state === "revoked" ? { state: "active" as const, reinstatedAt: Date.now() } : { state: "active" as const };
  if (!(await core.fleet.updateInstance(id, patch))) throw notFound(NOT_FOUND);
  await audit(core.db, actor, "instance.reinstate", { type: "instance", id });
}

export async function removeInstance(core: Deps, id: string, actor: Actor): Promise<void> {
  if (!(await core.fleet.deleteInstance(id))) throw notFound(NOT_FOUND);
  await audit(core.db, actor, "instance.remove", { type: "instance", id });
}

/** The admin's display name and labels (the hostname stays what the agent reports). */
export async function renameInstance(core: Deps, id: string, names: { displayName: string | null; labels: string[] }, actor: Actor): Promise<void> {
  if (!(await core.fleet.updateInstance(id, { displayName: names.displayName, labels: names.labels }))) throw notFound(NOT_FOUND);
  await audit(core.db, actor, "instance.rename", { type: "instance", id }, names);
}

/** Every process holding the identity is told to re-key (agent-api/rekey.ts). */
export async function resetIdentity(core: Deps, id: string, actor: Actor): Promise<void> {
  const row = await getInstance(core.db, id);
  if (!row) throw notFound(NOT_FOUND);
  if (row.state === "revoked") throw conflict("instance is revoked; reinstate it first");
  await core.fleet.updateInstance(id, { identityResetPending: true }, { nudge: true });
  await audit(core.db, actor, "instance.reset-identity", { type: "instance", id }, { conflict: row.identityConflict });
}
