// The JSON shape of an instance, shared by the API and (for consistency) the pages.
import type { Instance } from "../../db/instances";
import type { FleetService } from "./index";
import { versionSkew } from "./status";
import { VERSION } from "../../version";

export interface InstanceRowLike {
  instance: Instance;
  keyClientId: string | null;
  keyTitle: string | null;
  keyState: string | null;
  certificateCount: number;
}

export function instanceView(r: InstanceRowLike, fleet: FleetService, now = Date.now()) {
  const i = r.instance;
  const lastSeenAt = fleet.lastSeenAt(i.id, i.lastSeenAt);
  return {
    id: i.id,
    hostname: i.hostname,
    displayName: i.displayName,
    labels: shownLabels(i.labels),
    os: i.os,
    arch: i.arch,
    version: i.version,
    versionSkew: versionSkew(i.version),
    hubVersion: VERSION,
    status: fleet.status(i, r.keyState, now),
    state: i.state,
    lastSeenAt,
    lastIp: i.lastIp,
    joinedAt: i.joinedAt,
    group: i.groupName,
    joiningKey: i.joiningKeyId
      ? { id: i.joiningKeyId, clientId: r.keyClientId, title: r.keyTitle, group: i.groupName, state: r.keyState }
      : null,
    identityConflict: i.identityConflict,
    identityResetPending: i.identityResetPending,
    clonedFromId: i.clonedFromId,
    syncIntervalSeconds: i.syncIntervalSeconds,
    certificateCount: Number(r.certificateCount),
    commandCursor: i.commandCursor,
    pendingCommands: Math.max(0, i.nextCommandSeq - 1 - i.commandCursor),
    /** As the agent reported it; null when it did not (older agents). */
    allowScripts: i.allowScripts,
    reinstatedAt: i.reinstatedAt,
  };
}

/** Only strings, at most 10: the column is written by core/instances.ts, but shown to every admin. */
function shownLabels(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, 10) : [];
}

export type InstanceView = ReturnType<typeof instanceView>;
