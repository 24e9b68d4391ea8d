// The local API bearer token: <data-dir>/local-api.token, mode 0600, created at first start.
// Whoever can read it (root / the agent's user) can steer the agent; nobody else can.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomToken } from "../../lib/crypto";
import { SECRET_PREFIX } from "../../lib/ids";
import { TOKEN_FILE } from "../config";

/** Creates the data dir, owner-only: it holds the instance private key and the API token. */
export function ensureDataDir(dataDir: string) {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    if ((statSync(dataDir).mode & 0o077) !== 0) chmodSync(dataDir, 0o700);
  } catch {} // not ours to change (e.g. a pre-created dir owned by another user): the files stay 0600
}

export function loadOrCreateToken(dataDir: string): { token: string; file: string; created: boolean } {
  const file = path.join(dataDir, TOKEN_FILE);
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token.length >= 20) {
      // Tighten permissions if someone loosened them.
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      return { token, file, created: false };
    }
  }
  const token = SECRET_PREFIX.localApi + randomToken(24);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // mode is ignored when the file already existed
  return { token, file, created: true };
}

export function readToken(dataDir: string): string {
  return readFileSync(path.join(dataDir, TOKEN_FILE), "utf8").trim();
}
