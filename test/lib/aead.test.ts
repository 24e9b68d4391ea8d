// AES-256-GCM sealing of stored secrets: round trip, and no opening with another key, other
// associated data (row/scope) or a flipped byte.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { AeadError, open, seal } from "../../src/lib/aead";

describe("aead", () => {
  const key = randomBytes(32);
  test("seals to an opaque value that opens with the same key and associated data", () => {
    const sealed = seal(key, '{"token":"s3cr3t-value"}', "credential:c1:global:");
    expect(sealed).toStartWith("v1.");
    expect(sealed).not.toContain("s3cr3t");
    expect(open(key, sealed, "credential:c1:global:")).toBe('{"token":"s3cr3t-value"}');
    // A fresh nonce each time: equal secrets do not give equal ciphertexts.
    expect(seal(key, '{"token":"s3cr3t-value"}', "credential:c1:global:")).not.toBe(sealed);
  });

  test("another key, other associated data or a changed byte do not open", () => {
    const sealed = seal(key, "hello", "credential:c1:global:");
    expect(() => open(randomBytes(32), sealed, "credential:c1:global:")).toThrow(AeadError);
    expect(() => open(key, sealed, "credential:c2:global:")).toThrow(AeadError);
    expect(() => open(key, sealed, "credential:c1:group:ops")).toThrow(AeadError);
    const raw = Buffer.from(sealed.slice(3), "base64url");
    raw[14] ^= 1;
    expect(() => open(key, `v1.${raw.toString("base64url")}`, "credential:c1:global:")).toThrow(AeadError);
    expect(() => seal(randomBytes(16), "x", "y")).toThrow("32-byte key");
  });
});
