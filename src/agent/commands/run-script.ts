// run-script: a shell script from the hub, refused unless the host admin allowed scripts
// locally (--allow-scripts or agent.json): a compromised hub cannot run code elsewhere.
import { z } from "zod";
import { payloadError, type Handler } from "./types";

const Payload = z.object({
  script: z.string().min(1).max(64 * 1024),
  timeoutSeconds: z.number().int().min(1).max(3600).optional(),
});
const OUTPUT_LIMIT = 4000;

export const SCRIPTS_REFUSED =
  "scripts are disabled on this host: the host admin must start the agent with --allow-scripts " +
  '(or set "allowScripts": true in agent.json in the agent data dir)';

export const runScript: Handler = async (payload, { allowScripts, log }) => {
  if (!allowScripts) return { status: "rejected", message: SCRIPTS_REFUSED };
  const parsed = Payload.safeParse(payload);
  if (!parsed.success) return payloadError('{"script": "…"}');
  log(`running script from the hub (${parsed.data.script.length} bytes)`);
  const proc = Bun.spawn(["/bin/sh", "-c", parsed.data.script], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: (parsed.data.timeoutSeconds ?? 300) * 1000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const data = { exitCode: code, signal: proc.signalCode, stdout: stdout.slice(-OUTPUT_LIMIT), stderr: stderr.slice(-OUTPUT_LIMIT) };
  if (proc.signalCode) return { status: "failed", message: `script killed by ${proc.signalCode} (timeout?)`, data };
  return code === 0 ? { status: "succeeded", message: "script exited 0", data } : { status: "failed", message: `script exited ${code}`, data };
};
