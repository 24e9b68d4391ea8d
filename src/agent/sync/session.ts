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
export const backoff = (failures: number) => Math.round(Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 10)) * (0.5 + Math.random() * 0.5));

// Hub answers are validated with the shared schemas (src/protocol/sync.ts, wait.ts, rekey.ts).
export function parseHub<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new HubClientError("bad-response", `the hub sent an invalid ${what} answer: ${parsed.error.issues[0]?.path.join(".") || ""} ${parsed.error.issues[0]?.message ?? ""}`.trim());
  return parsed.data;
}
