// Recognises database failures caused by the storage under the hub (disk full, read-only
// filesystem or file, I/O errors) and says so in a sentence an operator can act on, instead of
// a generic "internal error" or a failed SQL statement. Drizzle wraps the libSQL error, so the
// cause chain is searched.
const STORAGE_CODES: Record<string, string> = {
  SQLITE_FULL: "the disk holding the hub's database is full: free space there, then retry",
  SQLITE_READONLY: "the hub's database cannot be written (read-only file or filesystem): make the data directory writable for the hub",
  SQLITE_CANTOPEN: "the hub's database file cannot be opened: check the data directory exists and is writable for the hub",
  SQLITE_IOERR: "the hub's database hit an I/O error from the disk: check the storage under the data directory",
  ENOSPC: "the disk holding the hub's data directory is full: free space there, then retry",
  EROFS: "the hub's data directory is on a read-only filesystem: make it writable for the hub",
  EACCES: "the hub's data directory cannot be written (permission denied): make it writable for the hub",
};

/** A clear sentence when `err` (or anything in its cause chain) is a storage failure, else null. */
export function describeStorageError(err: unknown): string | null {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== "object") break;
    const { code, message } = e as { code?: unknown; message?: unknown };
    for (const candidate of [code, typeof message === "string" ? message.match(/\b(SQLITE_[A-Z]+|ENOSPC|EROFS|EACCES)\b/)?.[1] : undefined]) {
      if (typeof candidate !== "string") continue;
      const base = candidate.startsWith("SQLITE_IOERR") ? "SQLITE_IOERR" : candidate.startsWith("SQLITE_READONLY") ? "SQLITE_READONLY" : candidate;
      if (STORAGE_CODES[base]) return `${STORAGE_CODES[base]} (${candidate})`;
    }
  }
  return null;
}

/** Whether `err` is a storage failure (see describeStorageError). */
export function isStorageError(err: unknown): boolean {
  return describeStorageError(err) !== null;
}
