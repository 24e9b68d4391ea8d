// Generic crypto helpers: random secrets, hashing, constant-time comparison.
import { sha256 } from "@oslojs/crypto/sha2";
import { constantTimeEqual } from "@oslojs/crypto/subtle";
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from "@oslojs/encoding";

const encoder = new TextEncoder();

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Random lower-case base32 string carrying `bytes * 8` bits of entropy. */
export function randomToken(bytes = 20): string {
  return encodeBase32LowerCaseNoPadding(randomBytes(bytes));
}

export function sha256Hex(value: string | Uint8Array): string {
  return encodeHexLowerCase(sha256(typeof value === "string" ? encoder.encode(value) : value));
}

/** Compares two strings without leaking where they differ (lengths may leak; compare hashes). */
export function safeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  return x.length === y.length && constantTimeEqual(x, y);
}

/** True when `secret` hashes to `expectedHashHex`, compared in constant time. */
export function verifySecretHash(secret: string, expectedHashHex: string): boolean {
  return safeEqual(sha256Hex(secret), expectedHashHex);
}
