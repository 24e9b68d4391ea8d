#!/usr/bin/env bun
// `npm run bench`: starts a hub from source with --http on a free loopback port, measures a
// baseline (GET /healthz) and every scenario, and prints each as a ratio of the baseline, so
// results compare across machines.
//
//   npm run bench                                   all scenarios
//   npm run bench -- --only healthz,agent-sync      some of them
//   npm run bench -- --duration 10 --connections 64 --bin dist/certhub --no-wrk
//
// Load comes from `wrk` (Debian package; installed when running as root) or, without it, an
// in-process fetch loop (slower: ratios stay meaningful, absolute numbers don't).
//
// Adding a scenario: push { name, run } onto SCENARIOS. `run(ctx)` may prepare state on the hub
// (ctx.hub.url, ctx.cli for admin commands) and must return ctx.load(...)'s result, or its own
// { rps, p50Ms?, p99Ms? } for work that isn't plain HTTP load.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, startHub, tempDir, type Hub } from "../test/helpers";

export interface LoadRequest {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  rps: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Non-2xx/3xx responses or socket errors seen during the run. */
  errors?: number;
  tool?: "wrk" | "fetch";
}

export interface BenchContext {
  hub: Hub;
  dataDir: string;
  /** Runs `certhub <args>` against the hub's data dir. */
  cli: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Drives `req` against the hub for the configured duration and connections. */
  load: (req: LoadRequest) => Promise<LoadResult>;
}

export interface Scenario {
  name: string;
  run: (ctx: BenchContext) => Promise<LoadResult>;
}

/** The baseline every other result is divided by. */
const BASELINE: Scenario = { name: "healthz", run: (ctx) => ctx.load({ path: "/healthz" }) };

export const SCENARIOS: Scenario[] = [
  { name: "metrics", run: (ctx) => ctx.load({ path: "/metrics" }) },
  { name: "login-page", run: (ctx) => ctx.load({ path: "/login" }) },
  // agent-sync: added with the agent protocol.
];

// ---------------------------------------------------------------------------------------------

interface Options {
  durationS: number;
  connections: number;
  threads: number;
  only?: Set<string>;
  bin: string;
  useWrk: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { durationS: 5, connections: 32, threads: 2, bin: "source", useWrk: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--duration") o.durationS = Number(next());
    else if (a === "--connections") o.connections = Number(next());
    else if (a === "--threads") o.threads = Number(next());
    else if (a === "--only") o.only = new Set(next().split(","));
    else if (a === "--bin") o.bin = next();
    else if (a === "--no-wrk") o.useWrk = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** wrk on PATH, installing the Debian package when root; null → fetch-loop fallback. */
function findWrk(): string | null {
  const have = Bun.which("wrk");
  if (have) return have;
  if (process.getuid?.() === 0 && Bun.which("apt-get")) {
    console.log("installing wrk …");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const ok =
      Bun.spawnSync(["apt-get", "install", "-y", "wrk"], { env, stdout: "ignore", stderr: "inherit" }).exitCode === 0 ||
      (Bun.spawnSync(["apt-get", "update"], { env, stdout: "ignore", stderr: "inherit" }).exitCode === 0 &&
        Bun.spawnSync(["apt-get", "install", "-y", "wrk"], { env, stdout: "ignore", stderr: "inherit" }).exitCode === 0);
    if (ok && Bun.which("wrk")) return Bun.which("wrk");
  }
  console.log("wrk not available (apt-get install wrk): using an in-process fetch loop instead");
  return null;
}

function durationMs(value: string, unit: string): number {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 }[unit] ?? 1);
}

/** A Lua string literal for any text (bytes outside printable ASCII as \ddd escapes). */
function luaString(text: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(text)) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, "0")}`;
  }
  return out + '"';
}

async function wrkLoad(wrk: string, url: string, req: LoadRequest, o: Options): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "certhub-bench-"));
  try {
    const lua = join(dir, "req.lua");
    const lines = [`wrk.method = ${luaString(req.method ?? "GET")}`];
    if (req.body !== undefined) lines.push(`wrk.body = ${luaString(req.body)}`);
    for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
    writeFileSync(lua, lines.join("\n") + "\n");
    const p = Bun.spawnSync(
      [wrk, "-t", String(o.threads), "-c", String(o.connections), "-d", `${o.durationS}s`, "--latency", "-s", lua, url + req.path],
      { stdout: "pipe", stderr: "pipe" },
    );
    const out = p.stdout.toString();
    const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
    if (p.exitCode !== 0 || !rps) throw new Error(`wrk failed:\n${out}\n${p.stderr.toString()}`);
    const pct = (n: number) => {
      const m = out.match(new RegExp(`^\\s*${n}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
      return m ? durationMs(m[1], m[2]) : undefined;
    };
    const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
    const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
    const errors = non2xx + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0);
    return { rps: Number(rps[1]), p50Ms: pct(50), p99Ms: pct(99), errors, tool: "wrk" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fetchLoad(url: string, req: LoadRequest, o: Options): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + o.durationS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const res = await fetch(url + req.path, { method: req.method ?? "GET", headers: req.headers, body: req.body, redirect: "manual" });
        await res.arrayBuffer();
        if (res.status >= 400) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: o.connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { rps: latencies.length / elapsed, p50Ms: pct(50), p99Ms: pct(99), errors, tool: "fetch" };
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

async function main(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const wrk = o.useWrk ? findWrk() : null;
  const dataDir = tempDir("certhub-bench-");
  const hub = await startHub({ bin: o.bin, dataDir });
  console.log(`hub (${o.bin}) at ${hub.url}, ready in ${hub.readyMs} ms; ${o.durationS}s × ${o.connections} connections per scenario via ${wrk ? "wrk" : "fetch loop"}\n`);
  const ctx: BenchContext = {
    hub,
    dataDir,
    cli: (args) => runCli(args, { bin: o.bin, dataDir }),
    load: (req) => (wrk ? wrkLoad(wrk, hub.url, req, o) : fetchLoad(hub.url, req, o)),
  };
  let failed = 0;
  try {
    const base = await BASELINE.run(ctx);
    const rows: string[][] = [["scenario", "req/s", "× baseline", "p50 ms", "p99 ms", "errors"]];
    const row = (name: string, r: LoadResult) =>
      rows.push([name, fmt(r.rps, 0), fmt(r.rps / base.rps, 3), fmt(r.p50Ms), fmt(r.p99Ms), String(r.errors ?? 0)]);
    row(`${BASELINE.name} (baseline)`, base);
    for (const s of SCENARIOS) {
      if (o.only && !o.only.has(s.name)) continue;
      try {
        row(s.name, await s.run(ctx));
      } catch (err) {
        failed++;
        rows.push([s.name, "failed", "-", "-", "-", err instanceof Error ? err.message.split("\n")[0] : String(err)]);
      }
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  } finally {
    await hub.stop();
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
