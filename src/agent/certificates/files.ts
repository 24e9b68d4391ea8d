// A managed certificate's versions on disk:
//   <data-dir>/certificates/<id>/<serial>/{cert,chain,fullchain,privkey}.pem
// Directories are 0700, privkey.pem 0600. A version is written into a fresh temporary directory
// and renamed into place only when complete; the database row then points at it (current /
// previous) in one transaction. Anything else in the certificate's folder is a leftover of an
// interrupted order and is pruned.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";

export interface PemSet {
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  keyPem: string;
}

export const FILE_NAMES = { certPem: "cert.pem", chainPem: "chain.pem", fullchainPem: "fullchain.pem", keyPem: "privkey.pem" } as const;

const SAFE_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

function safe(name: string, what: string): string {
  if (!SAFE_NAME.test(name) || name === "." || name === "..") throw new Error(`unsafe ${what} for a file name: ${JSON.stringify(name)}`);
  return name;
}

export function certificatesRoot(dataDir: string): string {
  return path.join(dataDir, "certificates");
}

export function certificateDir(dataDir: string, id: string): string {
  return path.join(certificatesRoot(dataDir), safe(id, "certificate id"));
}

export function versionDir(dataDir: string, id: string, version: string): string {
  return path.join(certificateDir(dataDir, id), safe(version, "version"));
}

/** The four file paths of a version (for deployments and scripts). */
export function versionPaths(dataDir: string, id: string, version: string) {
  const dir = versionDir(dataDir, id, version);
  return { cert: path.join(dir, FILE_NAMES.certPem), chain: path.join(dir, FILE_NAMES.chainPem), fullchain: path.join(dir, FILE_NAMES.fullchainPem), key: path.join(dir, FILE_NAMES.keyPem) };
}

function writeDurable(file: string, data: string, mode: number) {
  const fd = openSync(file, "wx", mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string) {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {} // not supported everywhere (Windows): the rename is still atomic
}

/**
 * Writes a complete version under `version` (the serial) and returns its directory name. The
 * files are written and synced in a temporary sibling, which is then renamed: the version
 * directory either does not exist or is complete.
 */
export function writeVersion(dataDir: string, id: string, version: string, pems: PemSet): string {
  const base = certificateDir(dataDir, id);
  const final = versionDir(dataDir, id, version); // checks the name before anything is created
  mkdirSync(certificatesRoot(dataDir), { recursive: true, mode: 0o700 });
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const tmp = path.join(base, `.tmp-${version}-${randomBytes(6).toString("hex")}`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    writeDurable(path.join(tmp, FILE_NAMES.certPem), pems.certPem, 0o644);
    writeDurable(path.join(tmp, FILE_NAMES.chainPem), pems.chainPem, 0o644);
    writeDurable(path.join(tmp, FILE_NAMES.fullchainPem), pems.fullchainPem, 0o644);
    writeDurable(path.join(tmp, FILE_NAMES.keyPem), pems.keyPem, 0o600);
    fsyncDir(tmp);
    rmSync(final, { recursive: true, force: true }); // an unreferenced leftover of the same serial
    renameSync(tmp, final);
    fsyncDir(base);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return version;
}

export function readVersion(dataDir: string, id: string, version: string): PemSet {
  const dir = versionDir(dataDir, id, version);
  return {
    certPem: readFileSync(path.join(dir, FILE_NAMES.certPem), "utf8"),
    chainPem: readFileSync(path.join(dir, FILE_NAMES.chainPem), "utf8"),
    fullchainPem: readFileSync(path.join(dir, FILE_NAMES.fullchainPem), "utf8"),
    keyPem: readFileSync(path.join(dir, FILE_NAMES.keyPem), "utf8"),
  };
}

/** Removes every entry of the certificate's folder except the `keep` versions; returns what went. */
export function pruneVersions(dataDir: string, id: string, keep: (string | null | undefined)[]): string[] {
  const base = certificateDir(dataDir, id);
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    if (keep.includes(e)) continue;
    rmSync(path.join(base, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed;
}

/** Lists the version directories present (tests, diagnostics). */
export function listVersions(dataDir: string, id: string): string[] {
  try {
    return readdirSync(certificateDir(dataDir, id)).sort();
  } catch {
    return [];
  }
}

/** Removes a certificate's folder (its definition was deleted on the hub). */
export function removeCertificateFiles(dataDir: string, id: string) {
  rmSync(certificateDir(dataDir, id), { recursive: true, force: true });
}

/** Removes folders of certificates that no longer exist (after a crash between delete and rm). */
export function pruneCertificates(dataDir: string, keepIds: string[]) {
  let entries: string[];
  try {
    entries = readdirSync(certificatesRoot(dataDir));
  } catch {
    return;
  }
  for (const e of entries) if (!keepIds.includes(e)) rmSync(path.join(certificatesRoot(dataDir), e), { recursive: true, force: true });
}
