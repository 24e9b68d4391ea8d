// Agent health, distinct from certificate health. Must agree with statusSql() in
// src/db/instances.ts, which computes the same thing for filtered, paginated lists.
import type { InstanceStatus } from "../../db/instances";
import { VERSION } from "../../version";

/** An instance is offline after this many missed sync intervals. */
export const OFFLINE_AFTER_INTERVALS = 3;

export function deriveStatus(
  i: { state: string; identityConflict: boolean; lastSeenAt: number | null; syncIntervalSeconds: number; reinstatedAt?: number | null },
  keyState: string | null | undefined,
  now = Date.now(),
): InstanceStatus {
  if (i.state === "revoked" || keyState === "revoked") return "revoked";
  if (i.identityConflict) return "conflict";
  // Reinstated but not heard from since: the agent is still cut off until its next contact.
  if (awaitingReconnect(i)) return "offline";
  if (i.lastSeenAt !== null && i.lastSeenAt > now - OFFLINE_AFTER_INTERVALS * 1000 * i.syncIntervalSeconds) return "online";
  return "offline";
}

/** Reinstated and the agent has not synced since (it learns within seconds when it runs). */
export function awaitingReconnect(i: { state: string; lastSeenAt: number | null; reinstatedAt?: number | null }): boolean {
  return i.state === "active" && i.reinstatedAt != null && (i.lastSeenAt ?? 0) <= i.reinstatedAt;
}

/** Version skew: the agent runs a different release than the hub. */
export function versionSkew(agentVersion: string): "same" | "older" | "newer" {
  if (agentVersion === VERSION) return "same";
  return compareSemver(agentVersion, VERSION) < 0 ? "older" : "newer";
}

function compareSemver(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => Number(x));
  const pb = b.split(/[.+-]/).map((x) => Number(x));
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
