// PEM files deployment: cert.pem, chain.pem, fullchain.pem and privkey.pem in one directory (the
// names certbot users know), each replaced atomically. privkey.pem is 0600 unless the task gives
// a mode; the others 0644 or the task's mode.
import { join } from "node:path";
import type { PemTaskSchema } from "../../protocol/certificates";
import type { z } from "zod";
import { writeFileAtomic } from "./atomic-write";
import { parseMode, requireCert, TaskError, type TaskOutput, type TaskRun } from "./types";

type PemTask = z.infer<typeof PemTaskSchema>;

export const PEM_FILE_NAMES = { cert: "cert.pem", chain: "chain.pem", fullchain: "fullchain.pem", key: "privkey.pem" } as const;

export async function deployPem(task: PemTask, run: TaskRun): Promise<TaskOutput> {
  const cert = requireCert(run);
  const mode = parseMode(task.mode);
  const paths = {
    cert: join(task.directory, PEM_FILE_NAMES.cert),
    chain: join(task.directory, PEM_FILE_NAMES.chain),
    fullchain: join(task.directory, PEM_FILE_NAMES.fullchain),
    key: join(task.directory, PEM_FILE_NAMES.key),
  };
  const owner = { owner: task.owner, group: task.group };
  // The key first, the certificates after it: a server reloading in between pairs the new key
  // with the old certificate for a moment at worst, and the certificate (which the verify step
  // and users look at) lands last, after everything it depends on.
  const files: Array<[string, string, number]> = [
    [paths.key, cert.keyPem, mode ?? 0o600],
    [paths.chain, cert.chainPem, mode ?? 0o644],
    [paths.cert, cert.certPem, mode ?? 0o644],
    [paths.fullchain, cert.fullchainPem, mode ?? 0o644],
  ];
  for (const [path, pem, fileMode] of files) {
    try {
      await writeFileAtomic(path, ensureNewline(pem), { mode: fileMode, ...owner });
    } catch (e) {
      throw new TaskError(e instanceof Error ? e.message : String(e));
    }
  }
  Object.assign(run.paths, paths);
  return { message: `wrote cert.pem, chain.pem, fullchain.pem, privkey.pem to ${task.directory} (serial ${cert.serial})` };
}

function ensureNewline(pem: string): string {
  return pem.endsWith("\n") ? pem : pem + "\n";
}
