// What is waiting for an instance, decided in one place for both /sync (what to deliver) and
// /wait (whether to wake the agent now). A new version counter (settings, credentials,
// certificates…) is added here once and both ends see it.
import type { CachedInstance } from "./cache";

/** What the agent says it already has. */
export interface AgentHas {
  cursor: number;
  settingsVersion: number;
}

export interface Waiting {
  /** Revoked (itself or its joining key): its next request is refused, which it must learn. */
  cutOff: boolean;
  /** An identity reset is pending: the agent must re-key. */
  rekey: boolean;
  /** Commands queued after the agent's cursor. */
  commands: boolean;
  /** The instance's config version differs from the agent's. */
  config: boolean;
}

type Inst = Pick<CachedInstance, "state" | "identityResetPending" | "latestCommandSeq" | "settingsVersion">;

export function whatIsWaiting(inst: Inst, has: AgentHas, keyState: string | null | undefined): Waiting {
  return {
    cutOff: inst.state === "revoked" || keyState === "revoked",
    rekey: inst.identityResetPending,
    commands: inst.latestCommandSeq > has.cursor,
    config: inst.settingsVersion !== has.settingsVersion,
  };
}

/**
 * Whether a held /wait should return now. In identity conflict nothing is delivered, so only
 * a cut-off or a reset (the way out of the conflict) wakes it.
 */
export function shouldWake(inst: Inst & Pick<CachedInstance, "identityConflict">, has: AgentHas, keyState: string | null | undefined): boolean {
  const w = whatIsWaiting(inst, has, keyState);
  if (w.cutOff || w.rekey) return true;
  if (inst.identityConflict) return false;
  return w.commands || w.config;
}
