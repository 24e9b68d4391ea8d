// The key that seals stored credentials (AES-256-GCM, src/lib/aead.ts). It lives outside the
// database so that a copy of hub.db alone reveals no secret: either CERTHUB_SECRET_KEY
// (32 bytes as base64 or hex, for hubs on a libSQL server or with a secrets manager) or
// <data-dir>/secret.key (32 random bytes, 0600), created on first start.
// Losing the key loses the stored credentials (they must be entered again); back it up with,
// but not beside, the database.
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { restrictMode } from "../lib/private-files";

export const SECRET_KEY_FILE = "secret.key";

/** 32 bytes from base64 (standard or url-safe) or 64 hex digits; throws a clear error otherwise. */
export function parseSecretKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : /^[A-Za-z0-9+/_-]+={0,2}$/.test(t) ? Buffer.from(t, "base64") : null;
  if (!key || key.length !== 32) throw new Error(`${source} must be 32 bytes, as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`)`);
  return key;
}

export function loadOrCreateEncryptionKey(dataDir: string, envValue?: string): { key: Buffer; source: "env" | "file"; created: boolean } {
  if (envValue) return { key: parseSecretKey(envValue, "CERTHUB_SECRET_KEY"), source: "env", created: false };
  const file = path.join(dataDir, SECRET_KEY_FILE);
  if (existsSync(file)) {
    restrictMode(file, 0o600);
    const raw = readFileSync(file);
    if (raw.length !== 32) throw new Error(`${file} must hold exactly 32 bytes (it holds ${raw.length}); restore it from a backup or set CERTHUB_SECRET_KEY`);
    return { key: raw, source: "file", created: false };
  }
  const key = randomBytes(32);
  // O_EXCL: two hubs starting on one data dir must not each write their own key.
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateEncryptionKey(dataDir);
    throw err;
  }
  try {
    writeSync(fd, key);
  } finally {
    closeSync(fd);
  }
  return { key, source: "file", created: true };
}
