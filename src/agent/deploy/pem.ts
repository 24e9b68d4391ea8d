// PEM files deployment: cert.pem, chain.pem, fullchain.pem and privkey.pem in one directory (the
// names certbot users know). privkey.pem is 0600 unless the task gives a mode; the others 0644
// or the task's mode. With `combined: true` also combined.pem: the full chain followed by the
// private key in one file, as haproxy (`crt`), lighttpd (ssl.pemfile), Webmin and pound read it
// (what certbot hooks make with `cat fullchain.pem privkey.pem`); 0600 unless a mode is given.
//
// The certificate and its key must change together: a server (re)loading while only one of them
// is new fails ("key values mismatch") or, worse, a restart does not come back. Replacing four
// files one by one (each atomically) leaves an instant with a new key beside the old certificate.
// So, like certbot's live/ → archive/ links, the files are symlinks into one version directory:
//
//   <dir>/cert.pem → .certhub-pem/current/cert.pem   (same for chain, fullchain, privkey)
//   <dir>/.certhub-pem/current → <serial>-<random>   (one symlink, swapped with one rename)
//
// Each version is written completely (every file fsynced) before the `current` link moves, so at
// every instant — across a kill -9 too — the names (four, or five with combined.pem) resolve into
// one version: a reader that
// opens both files while no swap happens between its two opens gets a matching pair, and a
// careful reader (fullchain, key, fullchain again) can tell when one did. nginx, Apache, HAProxy
// and Postfix follow symlinks when they read certificates (and are reloaded after this task).
// The previous version is kept (a reader mid-open keeps working); older ones are removed.
// The names in <dir> are only replaced when they are not our links yet (first run, or files of
// an older agent); a symlink pointing anywhere else is refused, as for every task. When the task
// no longer asks for combined.pem, our link of that name is removed (it would dangle); a regular
// combined.pem the admin made is left alone.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, readlink, rename, rm, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import type { PemTaskSchema } from "../../protocol/certificates";
import { checkDirectory, writeFileAtomic } from "./atomic-write";
import { parseMode, requireCert, TaskError, type TaskOutput, type TaskRun } from "./types";

type PemTask = z.infer<typeof PemTaskSchema>;

export const PEM_FILE_NAMES = { cert: "cert.pem", chain: "chain.pem", fullchain: "fullchain.pem", key: "privkey.pem" } as const;
/** Full chain + private key in one file (only with the task's `combined: true`). */
export const PEM_COMBINED_NAME = "combined.pem";
/** The hidden directory inside the task's directory that holds the versions. */
export const PEM_VERSIONS_DIR = ".certhub-pem";
const CURRENT = "current";

export async function deployPem(task: PemTask, run: TaskRun): Promise<TaskOutput> {
  const cert = requireCert(run);
  const mode = parseMode(task.mode);
  const dir = task.directory;
  const paths = {
    cert: join(dir, PEM_FILE_NAMES.cert),
    chain: join(dir, PEM_FILE_NAMES.chain),
    fullchain: join(dir, PEM_FILE_NAMES.fullchain),
    key: join(dir, PEM_FILE_NAMES.key),
  };
  const owner = { owner: task.owner, group: task.group };
  const names: string[] = [...Object.values(PEM_FILE_NAMES), ...(task.combined ? [PEM_COMBINED_NAME] : [])];
  try {
    await checkDirectory(dir);
    for (const name of names) await checkName(dir, name);
    const versions = join(dir, PEM_VERSIONS_DIR);
    await ensureVersionsDir(versions);
    const version = `${cert.serial.slice(0, 40) || "0"}-${randomBytes(4).toString("hex")}`;
    const vdir = join(versions, version);
    try {
      await mkdir(vdir, { mode: 0o755 });
    } catch (e) {
      throw new Error(`${vdir}: cannot create the version directory: ${errText(e)}`);
    }
    const files: Array<[string, string, number]> = [
      [PEM_FILE_NAMES.key, cert.keyPem, mode ?? 0o600],
      [PEM_FILE_NAMES.chain, cert.chainPem, mode ?? 0o644],
      [PEM_FILE_NAMES.cert, cert.certPem, mode ?? 0o644],
      [PEM_FILE_NAMES.fullchain, cert.fullchainPem, mode ?? 0o644],
    ];
    // Chain first, key last: the order of certbot hooks' `cat fullchain.pem privkey.pem`. It holds
    // the key, so 0600 like privkey.pem.
    if (task.combined) files.push([PEM_COMBINED_NAME, ensureNewline(cert.fullchainPem) + ensureNewline(cert.keyPem), mode ?? 0o600]);
    try {
      for (const [name, pem, fileMode] of files) await writeFileAtomic(join(vdir, name), ensureNewline(pem), { mode: fileMode, ...owner });
    } catch (e) {
      await rm(vdir, { recursive: true, force: true }).catch(() => {});
      throw e;
    }
    // The swap: from here on every name resolves into the new version.
    const previous = await readlink(join(versions, CURRENT)).catch(() => null);
    await replaceWithSymlink(versions, CURRENT, version);
    // First run (or regular files from an older agent): make the names our links.
    for (const name of names) {
      const target = join(PEM_VERSIONS_DIR, CURRENT, name);
      if ((await readlink(join(dir, name)).catch(() => null)) !== target) await replaceWithSymlink(dir, name, target);
    }
    if (!task.combined) await removeOurLink(dir, PEM_COMBINED_NAME);
    await syncDir(dir);
    await pruneVersions(versions, [version, previous]);
    await removeStaleLinks(dir);
    await removeStaleLinks(versions);
  } catch (e) {
    throw new TaskError(e instanceof Error ? e.message : String(e));
  }
  Object.assign(run.paths, paths);
  return { message: `wrote ${names.join(", ")} to ${dir} (serial ${cert.serial})` };
}

/** A name in the task's directory may be missing, a regular file, or our own link — nothing else. */
async function checkName(dir: string, name: string) {
  const path = join(dir, name);
  const st = await lstat(path).catch((e: any) => {
    if (e?.code === "ENOENT") return null;
    throw new Error(`${path}: ${errText(e)}`);
  });
  if (!st || st.isFile()) return;
  if (st.isSymbolicLink()) {
    if ((await readlink(path)) === join(PEM_VERSIONS_DIR, CURRENT, name)) return;
    throw new Error(`${path}: is a symbolic link to elsewhere; refusing to replace it (point the task at the real directory)`);
  }
  throw new Error(`${path}: exists and is not a regular file`);
}

async function ensureVersionsDir(versions: string) {
  const st = await lstat(versions).catch(() => null);
  if (st?.isDirectory()) return;
  if (st) throw new Error(`${versions}: exists and is not a directory (certhub keeps the PEM versions there)`);
  try {
    await mkdir(versions, { mode: 0o755 });
  } catch (e) {
    throw new Error(`${versions}: cannot create a directory in ${join(versions, "..")}: ${errText(e)}`);
  }
}

/** Puts a symlink `name` → `target` in `dir` with one rename (atomic for readers). */
async function replaceWithSymlink(dir: string, name: string, target: string) {
  const tmp = join(dir, `.${name}.certhub-${randomBytes(6).toString("hex")}.link`);
  try {
    await symlink(target, tmp);
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new Error(`${join(dir, name)}: cannot replace it: ${errText(e)}`);
  }
  await syncDir(dir);
}

/** Removes `name` in `dir` if it is our link into the versions (a combined.pem no longer asked for). */
async function removeOurLink(dir: string, name: string) {
  if ((await readlink(join(dir, name)).catch(() => null)) !== join(PEM_VERSIONS_DIR, CURRENT, name)) return;
  try {
    await unlink(join(dir, name));
  } catch (e) {
    throw new Error(`${join(dir, name)}: cannot remove it: ${errText(e)}`);
  }
  await syncDir(dir);
}

/** Removes versions other than the current and the previous one (and leftovers of a kill -9). */
async function pruneVersions(versions: string, keep: Array<string | null>) {
  for (const e of await readdir(versions).catch(() => [] as string[])) {
    if (e === CURRENT || keep.includes(e)) continue;
    await rm(join(versions, e), { recursive: true, force: true }).catch(() => {});
  }
}

/** A temp link a killed agent left between its symlink() and rename() (hidden, harmless, removed). */
async function removeStaleLinks(dir: string) {
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    if (!/^\.(cert\.pem|chain\.pem|fullchain\.pem|privkey\.pem|combined\.pem|current)\.certhub-[0-9a-f]{12}\.link$/.test(e)) continue;
    const st = await lstat(join(dir, e)).catch(() => null);
    if (st?.isSymbolicLink()) await unlink(join(dir, e)).catch(() => {});
  }
}

async function syncDir(dir: string) {
  let h;
  try {
    h = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await h.sync();
  } catch {
    // file systems without directory fsync
  } finally {
    await h?.close().catch(() => {});
  }
}

function errText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err?.code === "EACCES") return "permission denied (EACCES)";
  if (err?.code === "EPERM") return "operation not permitted (EPERM)";
  return err?.message ?? String(e);
}

function ensureNewline(pem: string): string {
  return pem.endsWith("\n") ? pem : pem + "\n";
}
