// POST /api/agent/v1/rekey: after an admin's "reset identity", replace the instance key.
import { z } from "zod";
import { FactsSchema, PublicKeySchema } from "./common";

export const RekeyRequestSchema = z.object({
  newPublicKey: PublicKeySchema,
  facts: FactsSchema.optional(),
});
export type RekeyRequest = z.infer<typeof RekeyRequestSchema>;

export const RekeyResponseSchema = z.object({
  instanceId: z.string().min(1).max(64),
  /** false: this process presented the retired key, so it became a new instance. */
  keptInstance: z.boolean(),
});
export type RekeyResponse = z.infer<typeof RekeyResponseSchema>;
