// Error answers of the agent API: a human `error` message and a machine-readable `code`.
import { z } from "zod";

export const ERROR_CODES = [
  "bad-request",
  "invalid-credentials",
  "key-revoked",
  "key-expired",
  "key-retired",
  "key-used-up",
  "key-wrong-role",
  "key-disabled",
  "rate-limited",
  "bad-signature",
  "clock-skew",
  "instance-unknown",
  "instance-revoked",
  "replay",
  "rekey-required",
  "not-pending",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: string;
  code?: ErrorCode;
}

/** An error body as the agent reads it: a code it does not know (a newer hub) is kept as text. */
export const ErrorBodySchema = z.object({
  error: z.string().max(4000).optional(),
  code: z.string().max(64).optional(),
});

/** Codes after which the agent must stop talking to the hub until something changes. */
export const CUT_OFF_CODES: ReadonlySet<string> = new Set(["key-revoked", "instance-revoked", "key-disabled"]);
