// AES-256-GCM sealing for secrets stored at rest (the hub's stored credentials).
// A sealed value is "v1.<base64url(12-byte nonce ‖ ciphertext ‖ 16-byte tag)>". The associated
// data binds it to its row (credential id + scope), so a ciphertext copied onto another row
// or another scope does not open.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = "v1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class AeadError extends Error {}

function checkKey(key: Uint8Array) {
  if (key.length !== 32) throw new AeadError("AES-256-GCM needs a 32-byte key");
}

export function seal(key: Uint8Array, plaintext: string, aad: string): string {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${VERSION}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url")}`;
}

/** Throws AeadError when the value was not sealed with this key and associated data. */
export function open(key: Uint8Array, sealed: string, aad: string): string {
  checkKey(key);
  const dot = sealed.indexOf(".");
  if (dot < 0 || sealed.slice(0, dot) !== VERSION) throw new AeadError("unknown sealed value format");
  const raw = Buffer.from(sealed.slice(dot + 1), "base64url");
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw new AeadError("sealed value too short");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new AeadError("cannot open sealed value: wrong key or tampered data");
  }
}
