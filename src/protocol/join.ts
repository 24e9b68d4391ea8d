// POST /api/agent/v1/join (joining key + new Ed25519 public key → instance id) and
// POST /api/agent/v1/leave (the agent leaves; the hub forgets the instance).
// Join is signed with the key being registered, which proves the agent holds the private half.
import { z } from "zod";
import { FactsSchema, PublicKeySchema, shortText } from "./common";

export const JoinRequestSchema = z.object({
  clientId: shortText(128),
  secret: shortText(256),
  publicKey: PublicKeySchema,
  facts: FactsSchema,
});
export type JoinRequest = z.infer<typeof JoinRequestSchema>;

/** The hub's 200 answer to a join; the agent validates it before storing anything. */
export const JoinResponseSchema = z.object({
  instanceId: z.string().min(1).max(64),
  group: z.string().max(200).nullable(),
  syncIntervalSeconds: z.number().int().min(1).max(86_400),
  hubVersion: z.string().max(64),
});
export type JoinResponse = z.infer<typeof JoinResponseSchema>;

export const LeaveRequestSchema = z.object({}).strict();
