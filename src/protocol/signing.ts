// Request signing between agent and hub. The agent signs every request with its Ed25519
// instance key over: method, path, instance id, timestamp, sequence, boot id and the SHA-256
// of the body. The hub verifies with the public key registered at join, rejects timestamps
// outside a window (replays of old captures) and sequences that do not increase (replays
// and out-of-order requests within the window). Boot id + sequence also expose clones: two
// processes sharing one key produce diverging sequences under different boot ids.
import { z } from "zod";
import { AGENT_API_PREFIX, counter } from "./common";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";

export const SIGNATURE_HEADERS = {
  instance: "x-certhub-instance",
  time: "x-certhub-time",
  seq: "x-certhub-seq",
  boot: "x-certhub-boot",
  signature: "x-certhub-signature",
} as const;

/** Requests whose timestamp is further than this from the hub's clock are refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** The instance id placeholder used while joining (no instance exists yet). */
export const JOIN_INSTANCE_ID = "-";

/**
 * The path that is signed: the endpoint under the agent API prefix, whatever prefix a reverse
 * proxy adds in front of the hub (https://proxy/certhub/api/agent/v1/sync signs
 * "/api/agent/v1/sync"), so path-rewriting proxies do not break signatures.
 */
export function signedPath(endpoint: string): string {
  return `${AGENT_API_PREFIX}/${endpoint}`;
}

export interface SignedParts {
  method: string;
  path: string; // signedPath(endpoint)
  instanceId: string;
  time: number;
  seq: number;
  bootId: string;
  bodySha256: string; // lower-case hex
}

export function sha256HexOf(body: string | Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

export function canonicalString(p: SignedParts): string {
  return ["certhub-v1", p.method.toUpperCase(), p.path, p.instanceId, String(p.time), String(p.seq), p.bootId, p.bodySha256].join("\n");
}

export interface KeyPair {
  publicKey: string; // base64url raw 32 bytes
  privateKeyPkcs8: string; // base64 DER
}

export function generateInstanceKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" }) as { x: string };
  return {
    publicKey: jwk.x,
    privateKeyPkcs8: (privateKey.export({ format: "der", type: "pkcs8" }) as Buffer).toString("base64"),
  };
}

export function loadPrivateKey(pkcs8Base64: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(pkcs8Base64, "base64"), format: "der", type: "pkcs8" });
}

/** Parses a base64url raw Ed25519 public key; throws on malformed input. */
export function parsePublicKey(rawBase64Url: string): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: rawBase64Url }, format: "jwk" });
}

/** Headers for a signed request. */
export function signRequest(privateKey: KeyObject, parts: SignedParts): Record<string, string> {
  const signature = sign(null, Buffer.from(canonicalString(parts)), privateKey).toString("base64url");
  return {
    [SIGNATURE_HEADERS.instance]: parts.instanceId,
    [SIGNATURE_HEADERS.time]: String(parts.time),
    [SIGNATURE_HEADERS.seq]: String(parts.seq),
    [SIGNATURE_HEADERS.boot]: parts.bootId,
    [SIGNATURE_HEADERS.signature]: signature,
  };
}

export interface ParsedSignatureHeaders {
  instanceId: string;
  time: number;
  seq: number;
  bootId: string;
  signature: Buffer;
}

// Digits only, no leading zeros: the signed string carries String(number), so "0x10", "1e3",
// " 16" or "016" would otherwise verify as "16" (one signature, many headers).
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,15})$/).transform(Number);

/**
 * The signed headers as the hub accepts them. The sequence is bounded like every other counter
 * an agent reports (≤ MAX_COUNTER, common.ts): a high-water mark near 2^53 would leave no room
 * to count on and could not round-trip through the database's integer column.
 */
export const SignatureHeadersSchema = z.object({
  instanceId: z.string().min(1).max(64),
  time: decimal.pipe(z.number().int().nonnegative().max(8.64e15)), // the largest Date
  seq: decimal.pipe(counter),
  bootId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  signature: z
    .string()
    .regex(/^[A-Za-z0-9_-]{86}$/) // 64-byte Ed25519 signature
    .transform((s) => Buffer.from(s, "base64url")),
});

/** Reads the signature headers; null when any is missing or malformed. */
export function readSignatureHeaders(get: (name: string) => string | undefined | null): ParsedSignatureHeaders | null {
  const parsed = SignatureHeadersSchema.safeParse({
    instanceId: get(SIGNATURE_HEADERS.instance) ?? undefined,
    time: get(SIGNATURE_HEADERS.time) ?? undefined,
    seq: get(SIGNATURE_HEADERS.seq) ?? undefined,
    bootId: get(SIGNATURE_HEADERS.boot) ?? undefined,
    signature: get(SIGNATURE_HEADERS.signature) ?? undefined,
  });
  return parsed.success ? parsed.data : null;
}

export function verifySignature(publicKey: KeyObject, parts: SignedParts, signature: Uint8Array): boolean {
  try {
    return verify(null, Buffer.from(canonicalString(parts)), publicKey, signature);
  } catch {
    return false;
  }
}
