// POST /api/agent/v1/wait: the push channel. A long-poll that answers {nudge:true} as soon as
// something is waiting (commands, config, rekey, revocation); it carries no data.
import { z } from "zod";
import { counter } from "./common";

export const WaitRequestSchema = z.object({
  cursor: counter,
  settingsVersion: counter,
  timeoutSeconds: z.number().int().min(1).max(60).optional(),
});
export type WaitRequest = z.infer<typeof WaitRequestSchema>;

export const WaitResponseSchema = z.object({
  /** true: something is waiting (commands, settings, rekey) — sync now. */
  nudge: z.boolean(),
});
export type WaitResponse = z.infer<typeof WaitResponseSchema>;
