// HTTP-01 through an existing web server: write <webroot>/.well-known/acme-challenge/<token>
// (world-readable, so the web server's user can read it) and remove it afterwards.
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkToken, type Presented, type Solver } from "./common";

export async function writeToken(webroot: string, token: string, keyAuthorization: string): Promise<() => Promise<void>> {
  const dir = join(webroot, ".well-known", "acme-challenge");
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const file = join(dir, checkToken(token));
    await writeFile(file, keyAuthorization, { mode: 0o644 });
    await chmod(file, 0o644); // the umask may have narrowed it
    return () => rm(file, { force: true });
  } catch (err) {
    throw new Error(`cannot write the HTTP-01 token under ${dir}: ${(err as Error).message}`);
  }
}

export function webrootSolver(webroot: string): Solver {
  return {
    type: "http-01",
    async present(task): Promise<Presented> {
      const remove = await writeToken(webroot, task.token, task.keyAuthorization);
      return { waitReady: async () => {}, cleanup: remove };
    },
  };
}
