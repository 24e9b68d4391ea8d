// Atomic file replacement for deployment tasks: a reader of `path` sees either the old file or
// the new one, never a partial one, also across a crash (kill -9, power loss) of the agent.
//
// How: a temp file in the SAME directory (rename is only atomic within one file system), opened
// O_EXCL|O_NOFOLLOW, written, given its owner/group/mode while still private to us, fsynced,
// renamed over the target, then the directory is fsynced so the rename itself is durable.
// Safety rules from the deployment issue: the target must not be a symlink (we would replace
// the link, not write where it points, and the user named this path, not that one), the parent
// directory must already exist (we never create directories the user did not ask for), and
// every failure is an Error whose message names the path and what is wrong.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** Permission bits, e.g. 0o640; default 0o644. Applied exactly (not masked by the umask). */
  mode?: number;
  /** User name or numeric uid. */
  owner?: string;
  /** Group name or numeric gid. */
  group?: string;
}

/** Writes `data` to `path` atomically; throws an Error with a clear message on any problem. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  if (!path.startsWith("/")) throw new Error(`${path}: not an absolute path`);
  const dir = dirname(path);
  await checkDirectory(dir);
  await checkTarget(path);
  const uid = opts.owner !== undefined ? await resolveUser(opts.owner) : -1;
  const gid = opts.group !== undefined ? await resolveGroup(opts.group) : -1;
  const mode = opts.mode ?? 0o644;
  await removeStaleTempFiles(dir, basename(path));

  const tmp = join(dir, `${tempPrefix(basename(path))}${randomBytes(6).toString("hex")}.tmp`);
  let handle;
  try {
    // 0600 at creation: nobody else can open the temp file before its final mode is set.
    handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw new Error(`${path}: cannot create a file in ${dir}: ${errText(e)}`);
  }
  let renamed = false;
  try {
    await handle.writeFile(data);
    if (uid !== -1 || gid !== -1) {
      try {
        await handle.chown(uid, gid);
      } catch (e) {
        throw new Error(`${path}: cannot set owner/group ${opts.owner ?? ""}${opts.group ? ":" + opts.group : ""}: ${errText(e)}`);
      }
    }
    await handle.chmod(mode); // after chown: chown may clear set-id bits
    await handle.sync();
    await handle.close();
    handle = undefined;
    try {
      await rename(tmp, path);
      renamed = true;
    } catch (e) {
      throw new Error(`${path}: cannot replace the file: ${errText(e)}`);
    }
    await syncDir(dir);
  } finally {
    if (handle) await handle.close().catch(() => {});
    if (!renamed) await unlink(tmp).catch(() => {});
  }
}

const tempPrefix = (name: string) => `.${name}.certhub-`;

/** A temp file this old was left by a killed agent (a live write takes milliseconds). */
export const STALE_TEMP_MS = 10 * 60_000;

/** Removes temp files a killed (kill -9, power loss) earlier write of `name` left behind. */
async function removeStaleTempFiles(dir: string, name: string): Promise<void> {
  const prefix = tempPrefix(name);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.startsWith(prefix) || !/^[0-9a-f]{12}\.tmp$/.test(e.slice(prefix.length))) continue;
    const p = join(dir, e);
    const st = await lstat(p).catch(() => null);
    if (st?.isFile() && Date.now() - st.mtimeMs > STALE_TEMP_MS) await unlink(p).catch(() => {});
  }
}

/** The target directory must exist (certhub never creates directories) and be a directory. */
export async function checkDirectory(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (e: any) {
    if (e?.code === "ENOENT") throw new Error(`${dir}: directory does not exist (create it first; certhub does not create directories)`);
    throw new Error(`${dir}: ${errText(e)}`);
  }
  if (!st.isDirectory()) throw new Error(`${dir}: not a directory`);
}

async function checkTarget(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e: any) {
    if (e?.code === "ENOENT") return;
    throw new Error(`${path}: ${errText(e)}`);
  }
  if (st.isSymbolicLink()) throw new Error(`${path}: is a symbolic link; refusing to replace it (point the task at the real file)`);
  if (!st.isFile()) throw new Error(`${path}: exists and is not a regular file`);
}

/** fsync of the directory makes the rename durable; some file systems refuse it (ignored). */
async function syncDir(dir: string): Promise<void> {
  let h;
  try {
    h = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await h.sync();
  } catch {
    // EINVAL/EISDIR on file systems without directory fsync: nothing more we can do.
  } finally {
    await h?.close().catch(() => {});
  }
}

const NUMERIC = /^\d{1,10}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}\$?$/;

/** uid for a user name or number (`id -u`, present on Linux and macOS). */
export async function resolveUser(owner: string): Promise<number> {
  if (NUMERIC.test(owner)) return Number(owner);
  if (!NAME.test(owner)) throw new Error(`invalid user name ${JSON.stringify(owner)}`);
  const out = await run("id", ["-u", "--", owner]).catch(() => null);
  const uid = out === null ? NaN : Number(out.trim());
  if (!Number.isInteger(uid)) throw new Error(`unknown user ${JSON.stringify(owner)}`);
  return uid;
}

/** gid for a group name or number (`getent group`; `dscl` on macOS, which has no getent). */
export async function resolveGroup(group: string): Promise<number> {
  if (NUMERIC.test(group)) return Number(group);
  if (!NAME.test(group)) throw new Error(`invalid group name ${JSON.stringify(group)}`);
  let gid = NaN;
  const entry = await run("getent", ["group", group]).catch(() => null);
  if (entry !== null) gid = Number(entry.split(":")[2]);
  else if (process.platform === "darwin") {
    const out = await run("dscl", [".", "-read", `/Groups/${group}`, "PrimaryGroupID"]).catch(() => null);
    gid = Number(out?.match(/PrimaryGroupID:\s*(\d+)/)?.[1]);
  }
  if (!Number.isInteger(gid)) throw new Error(`unknown group ${JSON.stringify(group)}`);
  return gid;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout) => (err ? fail(err) : ok(String(stdout))));
  });
}

/** "permission denied (EACCES)"-style text without the stack. */
export function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === "EACCES" || err?.code === "EPERM") return `permission denied (${err.code})`;
  if (err?.code === "ENOSPC") return "no space left on device (ENOSPC)";
  if (err?.code === "EROFS") return "read-only file system (EROFS)";
  return err?.message ?? String(e);
}
