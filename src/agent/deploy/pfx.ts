// PKCS#12 / PFX deployment task: the key, certificate and chain in one file protected by the
// password from a stored credential, modern (AES) or legacy (3DES) encoding, written atomically
// (0600 unless the task gives a mode: the file holds the private key). The friendly name is what
// Windows shows and the alias Java's keytool lists, so this task also serves Java servers
// (Tomcat reads PKCS12 keystores; keytool has defaulted to PKCS12 since Java 9).
import type { PfxTaskSchema } from "../../protocol/certificates";
import type { z } from "zod";
import { writeFileAtomic } from "./atomic-write";
import { buildPfx } from "./pkcs12";
import { credentialSecret, parseMode, requireCert, TaskError, type TaskOutput, type TaskRun } from "./types";

type PfxTask = z.infer<typeof PfxTaskSchema>;

export async function deployPfx(task: PfxTask, run: TaskRun): Promise<TaskOutput> {
  const cert = requireCert(run);
  const password = credentialSecret(run.ctx.credentials.get(task.passwordCredentialId), task.passwordCredentialId, "password");
  const encoding = task.encoding ?? "modern";
  const friendlyName = task.friendlyName ?? cert.name;
  let der: Uint8Array;
  try {
    der = buildPfx({ keyPem: cert.keyPem, certPem: cert.certPem, chainPem: cert.chainPem, password, encoding, friendlyName });
  } catch (e) {
    throw new TaskError(`cannot build the PKCS#12 file: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    await writeFileAtomic(task.path, der, { mode: parseMode(task.mode) ?? 0o600, owner: task.owner, group: task.group });
  } catch (e) {
    throw new TaskError(e instanceof Error ? e.message : String(e));
  }
  run.paths.pfx = task.path;
  const algo = encoding === "legacy" ? "legacy: 3DES, SHA-1 MAC" : "modern: AES-256, SHA-256 MAC";
  return { message: `wrote ${task.path} (${algo}; friendly name "${friendlyName}"; serial ${cert.serial})` };
}
