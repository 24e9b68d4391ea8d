// Pieces every agent API message shares: the path prefix, body limits, the bounds on numbers
// and ids an agent reports (security review #3), the instance public key and host facts.
import { z } from "zod";

export const AGENT_API_PREFIX = "/api/agent/v1";
export const PROTOCOL_VERSION = 1;

/** Body size limits per endpoint (bytes), enforced by the hub before parsing. */
export const BODY_LIMITS = {
  join: 16 * 1024,
  sync: 2 * 1024 * 1024, // certificate lists of large hosts
  small: 16 * 1024,
} as const;

export const shortText = (max = 255) => z.string().trim().min(1).max(max);

// A value the hub stores is one it can render and compare. Counters (sequences, cursors,
// versions) stay far below 2^53; times use epochMs (2000 … 2200) from certificates.ts.
/** Largest sequence / cursor / version accepted on the wire (about 1.1e12). */
export const MAX_COUNTER = 2 ** 40;
export const counter = z.number().int().nonnegative().max(MAX_COUNTER);
export const wireId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, "invalid id");

/** Raw 32-byte Ed25519 public key, base64url without padding. */
export const PublicKeySchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "expected a base64url Ed25519 public key");

export const FactsSchema = z.object({
  hostname: shortText(253),
  os: shortText(64),
  arch: shortText(32),
  version: shortText(64),
  /** SHA-256 of the OS machine id salted with "certhub"; a hint for clone detection only. */
  machineId: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** The host admin's script policy (--allow-scripts): the hub refuses run-script when false. */
  allowScripts: z.boolean().optional(),
});
export type Facts = z.infer<typeof FactsSchema>;
