// Shared test utilities. Import from "../helpers" (or "../../test/helpers").
//
//   binPath()                                   → absolute path of the binary under test
//   await freePort()                            → a free TCP port on 127.0.0.1 (and .2), below the ephemeral range
//   tempDir(prefix)                             → fresh dir under os.tmpdir(), removed after the run
//   await startHub({ dataDir, bin?, env?, args?, adminPassword?, cwd?, port?, timeoutMs? })
//       → { url, port, proc, readyMs, stdout(), stderr(), output(), stop() }
//   await runCli(args, { dataDir?, env?, bin?, cwd?, stdin?, timeoutMs? })
//       → { code, stdout, stderr }
//
// `bin` is a path to a certhub binary, or "source" to run `bun src/main.ts` (no build needed);
// by default it is binPath(): env CERTHUB_BIN, else dist/certhub (npm test builds it first).
// Child processes get the parent's environment minus every CERTHUB_* variable, plus `env`.
// Temp dirs and hubs left running are cleaned up after the whole run by cleanup.ts (preloaded
// by npm test). Set CERTHUB_KEEP_TMP=1 to keep temp dirs for inspection.
//
// Beside this file: hub-fixture.ts (useSignedInHub: a hub started and signed in per file),
// agents.ts (useHubWithAgents, loopbackProxy), session.ts (signIn), poll.ts (until),
// acme-peers.ts (Pebble, challtestsrv, BIND), browser.ts (Chromium), recording-proxy.ts,
// as-nobody.ts (run a bundled script as user nobody).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");

/** Admin password startHub sets unless told otherwise. */
export const ADMIN_PASSWORD = "certhub-test-admin-pw";

/** The binary under test: env CERTHUB_BIN, else <repo>/dist/certhub. */
export function binPath(): string {
  return resolve(process.env.CERTHUB_BIN ?? join(ROOT, "dist/certhub"));
}

/**
 * A port that was free on 127.0.0.1 and 127.0.0.2 a moment ago. Taken below the kernel's
 * ephemeral range when it can be read: a port from port 0 is in that range, and between this
 * check and the test's own bind any outgoing connection (the suite makes tens of thousands) may
 * take it ("Failed to start server. Is port N in use?" was seen). Ports below the range are only
 * ever taken by an explicit bind, and this process hands each out once.
 */
export async function freePort(): Promise<number> {
  const handedOut: Set<number> = ((globalThis as any)[Symbol.for("certhub.test.ports")] ??= new Set<number>());
  const low = ephemeralLow();
  if (low !== null && low > 12_000) {
    for (let i = 0; i < 200; i++) {
      const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
      if (handedOut.has(port)) continue;
      handedOut.add(port); // before the check: concurrent callers must not pick it too
      if (await bindable(port)) return port;
      handedOut.delete(port);
    }
  }
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

/** The first port of the kernel's ephemeral range (Linux), null elsewhere. */
function ephemeralLow(): number | null {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : null;
  } catch {
    return null;
  }
}

/** Whether `port` can be listened on, on both loopback addresses the tests use. */
async function bindable(port: number): Promise<boolean> {
  for (const host of ["127.0.0.1", "127.0.0.2"]) {
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.unref();
      srv.once("error", () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

// Everything to clean up, shared through globalThis so the preload and every test file see
// the same registry. bun test never fires process "exit", and afterAll() registered from inside
// a hook or test runs right away, so cleanup.ts (a --preload; scripts/test.ts passes it) runs
// cleanup() in a global afterAll. Outside bun test (bench) the exit handler does it.
const registry: { dirs: string[]; procs: Set<Subprocess> } = ((globalThis as any)[
  Symbol.for("certhub.test.registry")
] ??= { dirs: [], procs: new Set() });
const liveProcs = registry.procs;

/** Kills processes still running and removes temp dirs (unless CERTHUB_KEEP_TMP is set). */
export async function cleanup(): Promise<void> {
  await Promise.all(
    [...liveProcs].map(async (p) => {
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 3000);
      await p.exited;
      clearTimeout(t);
    }),
  );
  liveProcs.clear();
  if (!process.env.CERTHUB_KEEP_TMP) for (const d of registry.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

process.on("exit", () => {
  for (const p of liveProcs) p.kill("SIGKILL");
  if (!process.env.CERTHUB_KEEP_TMP) for (const d of registry.dirs) rmSync(d, { recursive: true, force: true });
});

/** A new empty directory under os.tmpdir(); removed after the test run (see cleanup()). */
export function tempDir(prefix = "certhub-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix.endsWith("-") ? prefix : `${prefix}-`));
  registry.dirs.push(dir);
  return dir;
}

/** Command line for a binary path or "source". */
function command(bin: string | undefined): string[] {
  if (bin === "source") return [process.execPath, join(ROOT, "src/main.ts")];
  return [bin ? resolve(bin) : binPath()];
}

/** process.env without CERTHUB_* (so a developer's settings don't leak in), plus extras. */
function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CERTHUB_")) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Collects a child's output stream into a string as it arrives. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let buf = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) buf += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { text: () => buf, done };
}

export interface StartHubOptions {
  /** Hub data dir (passed as --data-dir). Use tempDir(). */
  dataDir: string;
  /** Binary path, or "source" for `bun src/main.ts`. Default binPath(). */
  bin?: string;
  /** Extra environment (undefined values remove a variable). */
  env?: Record<string, string | undefined>;
  /** Extra arguments after the standard ones. */
  args?: string[];
  /** CERTHUB_ADMIN_PASSWORD; default ADMIN_PASSWORD, null leaves it unset (random password). */
  adminPassword?: string | null;
  /** Working directory of the hub process. Default: the repository root. */
  cwd?: string;
  /** Port to listen on; default freePort(). */
  port?: number;
  /** How long to wait for /healthz → 200. Default 20 s. */
  timeoutMs?: number;
}

export interface Hub {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Milliseconds from spawn to the first /healthz 200. */
  readyMs: number;
  /** Everything the hub printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** stdout + stderr, for failure messages. */
  output(): string;
  /** SIGTERM, wait for exit (SIGKILL after 10 s); resolves with the exit code. */
  stop(): Promise<number>;
}

/**
 * Spawns `certhub serve --http --listen 127.0.0.1:<port> --data-dir <dataDir> ...args` and
 * waits until GET /healthz answers 200. Throws with the hub's output if it exits or times out.
 */
export async function startHub(opts: StartHubOptions): Promise<Hub> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const password = opts.adminPassword === undefined ? ADMIN_PASSWORD : opts.adminPassword;
  const cmd = [
    ...command(opts.bin),
    "serve", "--http", "--listen", `127.0.0.1:${port}`, "--data-dir", opts.dataDir,
    ...(opts.args ?? []),
  ];
  const spawnedAt = performance.now();
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: childEnv({ CERTHUB_ADMIN_PASSWORD: password ?? undefined, ...opts.env }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  liveProcs.add(proc);
  proc.exited.then(() => liveProcs.delete(proc));
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);

  const hub: Hub = {
    url,
    port,
    proc,
    readyMs: 0,
    stdout: out.text,
    stderr: err.text,
    output: () => `--- stdout ---\n${out.text()}\n--- stderr ---\n${err.text()}`,
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

  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let lastError = "";
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await Promise.all([out.done, err.done]);
      throw new Error(`hub exited (${proc.exitCode ?? proc.signalCode}) before /healthz answered\n$ ${cmd.join(" ")}\n${hub.output()}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        hub.readyMs = Math.round(performance.now() - spawnedAt);
        return hub;
      }
      lastError = `status ${res.status}`;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await Bun.sleep(50);
  }
  await hub.stop();
  throw new Error(`hub did not answer /healthz within ${opts.timeoutMs ?? 20_000} ms (last: ${lastError})\n$ ${cmd.join(" ")}\n${hub.output()}`);
}

export interface RunCliOptions {
  /** Sets CERTHUB_DATA_DIR and CERTHUB_AGENT_DATA_DIR (so hub and agent commands both see it). */
  dataDir?: string;
  env?: Record<string, string | undefined>;
  /** Binary path, or "source". Default binPath(). */
  bin?: string;
  cwd?: string;
  /** Text written to the command's stdin. */
  stdin?: string;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
}

/** Runs `certhub ...args` to completion. */
export async function runCli(
  args: string[],
  opts: RunCliOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dirs = opts.dataDir ? { CERTHUB_DATA_DIR: opts.dataDir, CERTHUB_AGENT_DATA_DIR: opts.dataDir } : {};
  const proc = Bun.spawn([...command(opts.bin), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: childEnv({ ...dirs, ...opts.env }),
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code: proc.signalCode ? 128 : code, stdout, stderr };
}
