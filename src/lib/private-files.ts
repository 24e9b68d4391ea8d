// Owner-only files and directories: the hub's data dir (0700), its database with the WAL/SHM
// side files, and key files (0600). Also fixes modes of files that already exist (a data dir
// made by hand with 0755, a hub.db created 0644 by an older version), with a warning, because
// `mode` on mkdir/open only applies when the file is created.
import { chmodSync, closeSync, constants, mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const warn = (msg: string) => console.warn(`certhub: warning: ${msg}`);
const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** chmod `file` to `mode` when it grants more than `mode` does; false when it does not exist. */
export function restrictMode(file: string, mode: number): boolean {
  let st;
  try {
    st = statSync(file);
  } catch {
    return false;
  }
  if ((st.mode & 0o777 & ~mode) !== 0) {
    chmodSync(file, mode);
    warn(`${file} was ${octal(st.mode)} (readable by other users); set to ${octal(mode)}`);
  }
  return true;
}

/** Creates `dir` 0700, or narrows an existing one to 0700. */
export function ensurePrivateDir(dir: string): void {
  try {
    statSync(dir);
  } catch {
    // mkdir's mode is masked by the umask; chmod below makes it exact either way.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  restrictMode(dir, 0o700);
}

/** SQLite side files that hold database pages (the WAL) or its index (SHM). */
export const SQLITE_SIDE_FILES = ["-wal", "-shm", "-journal"] as const;

/**
 * Before SQLite opens `dbFile`: create it empty with 0600 if missing (SQLite creates the WAL
 * and SHM files with the database file's mode, so they follow), and narrow existing files.
 */
export function preparePrivateDatabase(dbFile: string): void {
  try {
    closeSync(openSync(dbFile, constants.O_CREAT | constants.O_WRONLY, 0o600));
  } catch {
    return; // unwritable location: let the database open report it clearly
  }
  restrictMode(dbFile, 0o600);
  for (const suffix of SQLITE_SIDE_FILES) restrictMode(`${dbFile}${suffix}`, 0o600);
}

/** Narrows the database side files again once SQLite has created them. */
export function restrictDatabaseSideFiles(dbFile: string): void {
  for (const suffix of SQLITE_SIDE_FILES) restrictMode(`${dbFile}${suffix}`, 0o600);
}

/** Every key and database file directly in `dir`: 0600 (the TLS key, encryption.key, hub.db…). */
export function restrictSecretFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (/\.(key|db|db-wal|db-shm|db-journal|token)$/.test(name)) restrictMode(path.join(dir, name), 0o600);
  }
}
