// Running real agent processes (the compiled binary) for end-to-end tests.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Subprocess } from "bun";
import { binPath, freePort } from "../helpers";

export interface RunningAgent {
  dataDir: string;
  /** http://127.0.0.2:<port> */
  url: string;
  listen: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  token: string;
  tokenFile: string;
  output(): string;
  /** Local API call with the bearer token. */
  api(p: string, init?: RequestInit): Promise<Response>;
  status(): Promise<any>;
  stop(): Promise<number>;
}

function collect(stream: ReadableStream<Uint8Array>) {
  let buf = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) buf += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { text: () => buf, done };
}

// The shared registry of test/helpers (its preloaded cleanup stops what is left after a run).
const live: Set<Subprocess> = ((globalThis as any)[Symbol.for("certhub.test.registry")] ??= { dirs: [], procs: new Set() }).procs;

/** Environment without CERTHUB_* from the developer's shell. */
function cleanEnv(extra: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CERTHUB_")) env[k] = v;
  return { ...env, ...extra };
}

/** Starts `certhub --agent` on 127.0.0.2:<free port> and waits until its local API answers. */
export async function startAgent(opts: { dataDir: string; bin?: string; port?: number; args?: string[]; env?: Record<string, string>; cwd?: string }): Promise<RunningAgent> {
  const port = opts.port ?? (await freePort());
  const listen = `127.0.0.2:${port}`;
  const cmd = [opts.bin ?? binPath(), "--agent", "--data-dir", opts.dataDir, "--listen", listen, ...(opts.args ?? [])];
  const proc = Bun.spawn(cmd, { cwd: opts.cwd ?? opts.dataDir, env: cleanEnv(opts.env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  live.add(proc);
  proc.exited.then(() => live.delete(proc));
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  const output = () => `--- agent stdout ---\n${out.text()}\n--- agent stderr ---\n${err.text()}`;
  const tokenFile = path.join(opts.dataDir, "local-api.token");
  const url = `http://${listen}`;
  const deadline = Date.now() + 20_000;
  let token = "";
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`agent exited (${proc.exitCode})\n$ ${cmd.join(" ")}\n${output()}`);
    if (existsSync(tokenFile)) {
      token = readFileSync(tokenFile, "utf8").trim();
      try {
        const r = await fetch(`${url}/api/system/status`, { headers: { authorization: `Bearer ${token}` } });
        if (r.status === 200) break;
      } catch {}
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`agent did not answer on ${url}\n${output()}`);
    }
    await Bun.sleep(50);
  }
  const agent: RunningAgent = {
    dataDir: opts.dataDir,
    url,
    listen,
    proc,
    token,
    tokenFile,
    output,
    api: (p, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}${p}`, { ...init, headers });
    },
    status: async () => (await agent.api("/api/system/status")).json(),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await proc.exited;
        clearTimeout(timer);
      }
      await Promise.all([out.done, err.done]);
      return proc.exitCode ?? 128;
    },
  };
  return agent;
}

/** Polls until fn returns a truthy value. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await Bun.sleep(everyMs);
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
