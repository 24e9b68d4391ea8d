// Shared pieces of the agent's sync engine (src/agent/sync/): the per-identity session the
// loops run in, jittered delays and backoff, and validation of hub answers.
import { z } from "zod";
import { HubClientError } from "../hub-client";

const MAX_BACKOFF_MS = 60_000;

export interface Session {
  active: boolean;
  wake: () => void;
  waitAbort: AbortController | null;
  /** Resolves when the session ends, so no loop sits in a long pause during shutdown. */
  ended: Promise<void>;
  end: () => void;
}

export function newSession(): Session {
  let end = () => {};
  const ended = new Promise<void>((r) => (end = r));
  return { active: true, wake: () => {}, waitAbort: null, ended, end };
}

export const jitter = (ms: number, spread = 0.1) => Math.round(ms * (1 - spread + Math.random() * 2 * spread));
/**
 * The pause after a hub asked to come back in `retryAfterMs`: never earlier, plus full jitter
 * over as long again (at most 5 min), so a fleet told the same thing does not return in step.
 */
export const afterRetryAfter = (retryAfterMs: number) => Math.round(retryAfterMs + Math.random() * Math.min(Math.max(retryAfterMs, 1000), 300_000));
/** A 503/429 without a (valid) Retry-After: as long as the hub's own longest ask (push.ts). */
export const BUSY_DEFAULT_MS = 60_000;
/**
 * Exponential backoff with full jitter (1 s, 2 s, 4 s … 60 s windows, anywhere inside): a fleet
 * that failed together (a hub restart) spreads over the whole window instead of returning in
 * clumps at its upper half. At least 100 ms, so a loop never spins.
 */
export const backoff = (failures: number) => Math.round(Math.max(100, Math.random() * Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 10))));

/**
 * Says once per episode that the hub asked a channel to come back later (503/429 with its
 * Retry-After), not on every retry; `clear()` when the channel works again.
 */
export function busyNotice(log: (msg: string) => void, channel: string) {
  let said = false;
  return {
    say(status: number, retryAfterMs: number | undefined, pauseMs: number, meanwhile: string) {
      if (said) return;
      said = true;
      const asked = retryAfterMs !== undefined ? `asked to retry in ${Math.ceil(retryAfterMs / 1000)} s` : `gave no valid Retry-After (waiting ${BUSY_DEFAULT_MS / 1000} s)`;
      log(`the hub answered ${status} to the ${channel} and ${asked}: next attempt in ${Math.ceil(pauseMs / 1000)} s${meanwhile} (said once until it works again)`);
    },
    clear() {
      said = false;
    },
  };
}

// Hub answers are validated with the shared schemas (src/protocol/sync.ts, wait.ts, rekey.ts).
export function parseHub<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new HubClientError("bad-response", `the hub sent an invalid ${what} answer: ${parsed.error.issues[0]?.path.join(".") || ""} ${parsed.error.issues[0]?.message ?? ""}`.trim());
  return parsed.data;
}
