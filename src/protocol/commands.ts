// Commands as the hub delivers them in /sync, and the results agents report back. Per-command
// payload schemas are in certificates.ts (certificate commands) and the hub's
// core/command-rules.ts checks them when queueing; the agent's handlers parse them again.
import { z } from "zod";
import { epochMs } from "./certificates";
import { counter, wireId } from "./common";

export const COMMAND_TYPES = ["renew-now", "update-settings", "refresh-external-scan", "ping", "run-script", "renew-certificate", "test-certificate", "deploy-certificate", "test-task"] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];
export const CommandTypeSchema = z.enum(COMMAND_TYPES);

/** A command as the hub delivers it. `id` is the idempotency key the agent dedupes on. */
export const CommandSchema = z.object({
  id: wireId,
  seq: counter.positive(),
  type: z.string().min(1).max(64), // unknown types are answered "rejected", not dropped
  payload: z.unknown(),
  createdAt: z.number().int(),
});
export type Command = z.infer<typeof CommandSchema>;

/**
 * Serialized size limit of a command result's `data` (the message has its own 4000). Generous:
 * a refused result would stay in the agent's outbox, so this must exceed what agents send
 * (deploy results ≤ ~200 KB, an external scan's problems ≤ ~500 KB).
 */
export const MAX_RESULT_DATA_BYTES = 1024 * 1024;
const resultData = z.unknown().refine((v) => v === undefined || jsonSize(v) <= MAX_RESULT_DATA_BYTES, {
  message: `result data must serialize to at most ${MAX_RESULT_DATA_BYTES} bytes of JSON`,
});

/** UTF-8 bytes of JSON.stringify(v); Infinity when it cannot be serialized. */
function jsonSize(v: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(v) ?? "").length;
  } catch {
    return Infinity;
  }
}

export const RESULT_STATUSES = ["succeeded", "failed", "rejected"] as const;
export const CommandResultSchema = z.object({
  commandId: wireId,
  seq: counter.positive(),
  status: z.enum(RESULT_STATUSES),
  /** Human-readable outcome; details in `data`. */
  message: z.string().max(4000),
  data: resultData.optional(),
  completedAt: epochMs,
});
export type CommandResult = z.infer<typeof CommandResultSchema>;
