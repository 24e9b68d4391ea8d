// DNS-01 through a host-provided hook, compatible with lego's exec provider (default mode):
//   <command> present _acme-challenge.<domain>. <value>    add the TXT record
//   <command> cleanup _acme-challenge.<domain>. <value>    remove that value (only that value)
// <value> is the base64url SHA-256 of the key authorization; a wildcard uses its base domain.
// Exit 0 means done; anything else fails the attempt with the hook's last output (4000 chars).
// No shell; the environment is the agent's minus every CERTHUB_* variable; 120 s timeout.
// Only where the host admin allowed scripts. The hook runs in its own process group, killed
// whole on timeout (a grandchild must not outlive it).
import { spawn } from "node:child_process";
import { sleep } from "../client";
import { serverAddress, waitForTxt } from "./dns";
import { dns01Name, dns01Value, type Presented, type SolverContext, type Solver } from "./common";

const HOOK_TIMEOUT_MS = 120_000;

export interface HookResult { code: number | null; output: string }

/** Runs the hook without a shell; the environment loses CERTHUB_* variables (agent secrets). */
export function runHook(command: string, args: string[], timeoutMs = HOOK_TIMEOUT_MS, signal?: AbortSignal): Promise<HookResult> {
  return new Promise((ok, fail) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CERTHUB_")) env[k] = v;
    const child = spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env });
    let output = "";
    const keep = (d: Buffer) => { output = (output + d.toString("utf8")).slice(-4000); };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    let killedFor: string | null = null;
    const killGroup = (why: string) => {
      killedFor = why;
      try { process.kill(-child.pid!, "SIGKILL"); } catch {}
    };
    const timer = setTimeout(() => killGroup(`timed out after ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const onAbort = () => killGroup("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (err) => { clearTimeout(timer); fail(new Error(`DNS hook ${command} could not start: ${err.message}`)); });
    child.on("close", (code) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (killedFor) return fail(new Error(`DNS hook ${command} ${args[0]} ${killedFor}${output ? `: ${output.trim()}` : ""}`));
      ok({ code, output });
    });
  });
}

export function execSolver(c: { command: string; propagationSeconds?: number }, ctx: SolverContext): Solver {
  return {
    type: "dns-01",
    async present(task, signal): Promise<Presented> {
      if (!ctx.allowScripts) throw new Error("DNS-01 exec hook refused: scripts are not allowed on this host (agent --allow-scripts)");
      const fqdn = dns01Name(task.domain);
      const value = dns01Value(task.keyAuthorization);
      const res = await runHook(c.command, ["present", fqdn, value], HOOK_TIMEOUT_MS, signal);
      if (res.code !== 0) throw new Error(`DNS hook ${c.command} present exited with ${res.code}${res.output ? `: ${res.output.trim()}` : ""}`);
      ctx.log(`DNS-01: hook presented TXT ${fqdn}`);
      return {
        async waitReady(sig) {
          // With a resolver to ask, wait until the record is there; otherwise trust the hook plus its delay.
          if (ctx.dnsResolver) await waitForTxt(await serverAddress(ctx.dnsResolver), fqdn, value, 60_000, sig);
          if (c.propagationSeconds) await sleep(c.propagationSeconds * 1000, sig);
        },
        async cleanup() {
          const r = await runHook(c.command, ["cleanup", fqdn, value]).catch((err: Error) => ({ code: -1, output: err.message }));
          if (r.code !== 0) ctx.log(`DNS-01: hook cleanup of ${fqdn} failed (${r.code}): ${r.output.trim()}`);
        },
      };
    },
  };
}
