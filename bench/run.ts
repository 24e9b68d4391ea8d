#!/usr/bin/env bun
// `npm run bench`: starts a hub from source with --http on a free loopback port, measures a
// baseline (GET /healthz) and every scenario, and prints each as a ratio of the baseline, so
// results compare across machines.
//
//   npm run bench                                   all scenarios
//   npm run bench -- --only healthz,agent-sync      some of them
//   npm run bench -- --duration 10 --connections 64 --bin dist/certhub --no-wrk
//   npm run bench -- --only agent-sync --agents 100000      the roadmap's fleet size
//   npm run bench -- --only agent-sync --profile /tmp/prof  hub from source under bun --cpu-prof
//   npm run bench -- --only held-connections --held 1000,10000,19000   push channel at scale
//   npm run bench -- --only held-connections --channel long-poll       one channel only
//   npm run bench -- --only reconnect-storm --storm 2000,5000          hub restart under load (agents that sync like the real one)
// Every run also writes its rows and notes to bench/results.json.
//
// Load comes from `wrk` (Debian package; installed when running as root) or, without it, an
// in-process fetch loop (slower: ratios stay meaningful, absolute numbers don't). Signed agent
// requests can't come from wrk: the fleet scenarios (bench/fleet.ts) drive them with their own
// fetch loop and compare against /healthz driven by the same kind of loop (ctx.fetchBaseline()).
// Every row also shows the hub's CPU time per request (utime+stime of the hub process from
// /proc, Linux only), the figure that holds up best on a noisy or shared machine.
//
// Adding a scenario: push { name, run } onto SCENARIOS. `run(ctx)` may prepare state on the hub
// (ctx.hub.url, ctx.cli for admin commands) and must return ctx.load(...)'s result, or its own
// { rps, p50Ms?, p99Ms? } for work that isn't plain HTTP load (set `baseline` when the ratio
// must be taken against another baseline than wrk's, and `notes` for lines under the table).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli, startHub, tempDir } from "../test/helpers";
import { FLEET_SCENARIOS } from "./fleet";
import { SCALE_SCENARIOS } from "./scale";
import { STORM_SCENARIOS } from "./storm";
import { summarize } from "./stats";

import type { BenchContext, LoadRequest, LoadResult, Options, Scenario } from "./types";

export type { BenchContext, LoadRequest, LoadResult, Options, Scenario } from "./types";


/** The baseline every other result is divided by. */
const BASELINE: Scenario = { name: "healthz", run: (ctx) => ctx.load({ path: "/healthz" }) };

export const SCENARIOS: Scenario[] = [
  { name: "metrics", run: (ctx) => ctx.load({ path: "/metrics" }) },
  { name: "login-page", run: (ctx) => ctx.load({ path: "/login" }) },
  ...FLEET_SCENARIOS, // agent-sync, sync-with-results, sync-with-certs, instances-page, instances-api
  ...SCALE_SCENARIOS, // held-connections (its own hub)
  ...STORM_SCENARIOS, // reconnect-storm (its own hub)
];

/** Scripts measured in their own process: `--only certificates-page` / `--only external-scan`. */
const STANDALONE = [
  { name: "certificates-page", script: "certificates-page.ts" }, // 100k certificates on 10k instances: p50/p99 per page and the API
  { name: "external-scan", script: "external-scan.ts" }, // 10k certbot renewal confs, as a ratio of reading as many small files
];

// ---------------------------------------------------------------------------------------------


function parseOptions(argv: string[]): Options {
  const o: Options = { durationS: 5, connections: 32, threads: 2, bin: "source", useWrk: true, agents: 2000, held: [1000], storm: [2000] };
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
    else if (a === "--agents") o.agents = Number(next());
    else if (a === "--profile") o.profileDir = resolve(next());
    else if (a === "--held") o.held = next().split(",").map(Number);
    else if (a === "--channel") o.channels = next().split(",").map((c) => {
      if (c !== "long-poll" && c !== "websocket") throw new Error(`--channel: long-poll or websocket, not ${c}`);
      return c;
    });
    else if (a === "--storm") o.storm = next().split(",").map(Number);
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
    const requests = Number(out.match(/^\s*(\d+) requests in /m)?.[1] ?? 0) || undefined;
    const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
    const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
    const errors = non2xx + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0);
    return { rps: Number(rps[1]), p50Ms: pct(50), p99Ms: pct(99), errors, tool: "wrk", requests };
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
  return { ...summarize(latencies, elapsed), errors, tool: "fetch" };
}

const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" }).stdout?.toString().trim()) || 100;

/** utime + stime of a process (all its threads) in seconds, from /proc/<pid>/stat. */
function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** The hub from source under the CPU profiler, as a "binary" startHub can run (exec keeps the pid). */
function profilingBin(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const script = join(tempDir("certhub-bench-prof-"), "certhub-profiled");
  writeFileSync(
    script,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --cpu-prof --cpu-prof-md --cpu-prof-dir ${JSON.stringify(dir)} ${JSON.stringify(join(import.meta.dir, "../src/main.ts"))} "$@"\n`,
  );
  chmodSync(script, 0o755);
  return script;
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

async function main(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  if (!(Number.isInteger(o.agents) && o.agents >= 1)) throw new Error("--agents must be a positive integer");
  const wrk = o.useWrk ? findWrk() : null;
  const dataDir = tempDir("certhub-bench-");
  const hubBin = o.profileDir ? profilingBin(o.profileDir) : o.bin;
  const hub = await startHub({ bin: hubBin, dataDir });
  console.log(`hub (${o.profileDir ? `source, profiled into ${o.profileDir}` : o.bin}) at ${hub.url}, ready in ${hub.readyMs} ms; ${o.durationS}s × ${o.connections} connections per scenario via ${wrk ? "wrk" : "fetch loop"}\n`);
  const hubCpuSeconds = () => processCpuSeconds(hub.proc.pid);
  const measured = async <T extends LoadResult>(fn: () => Promise<T>): Promise<T> => {
    const cpu0 = hubCpuSeconds();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await fn();
    const wallS = (performance.now() - t0) / 1000;
    const cpu1 = hubCpuSeconds();
    const client = process.cpuUsage(client0);
    const requests = r.requests ?? r.rps * o.durationS;
    if (cpu0 !== null && cpu1 !== null) {
      r.hubCpuUs ??= requests > 0 ? ((cpu1 - cpu0) * 1e6) / requests : undefined;
      r.hubCpuPct ??= ((cpu1 - cpu0) / wallS) * 100;
    }
    if (r.tool === "fetch") r.clientCpuPct ??= ((client.user + client.system) / 1e6 / wallS) * 100;
    return r;
  };
  let fetchBase: Promise<LoadResult> | undefined;
  const ctx: BenchContext = {
    hub,
    dataDir,
    cli: (args) => runCli(args, { bin: o.bin, dataDir }),
    load: (req) => measured(() => (wrk ? wrkLoad(wrk, hub.url, req, o) : fetchLoad(hub.url, req, o))),
    // Without wrk the main baseline already is the fetch loop's.
    fetchBaseline: () => (fetchBase ??= measured(() => fetchLoad(hub.url, { path: "/healthz" }, o))),
    measured,
    hubCpuSeconds,
    shared: new Map(),
    options: o,
  };
  let failed = 0;
  try {
    const base = await BASELINE.run(ctx);
    if (base.tool === "fetch") fetchBase = Promise.resolve(base);
    const header = ["scenario", "req/s", "× baseline", "p50 ms", "p99 ms", "hub µs/req", "errors"];
    const rows: string[][] = [];
    const notes: string[] = [];
    const results: Record<string, unknown>[] = [{ name: BASELINE.name, ...base }];
    const cells = (name: string, r: LoadResult, b: { rps: number } = base) =>
      [name, fmt(r.rps, 0), fmt(r.rps / b.rps, 3), fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.hubCpuUs, 0), String(r.errors ?? 0)];
    rows.push(cells(`${BASELINE.name} (baseline${base.tool === "fetch" ? ", fetch loop" : ""})`, base));
    for (const s of SCENARIOS) {
      if (o.only && !o.only.has(s.name)) continue;
      try {
        const r = await s.run(ctx);
        results.push({ name: s.name, ...r });
        rows.push(cells(r.baseline ? `${s.name} (vs ${r.baseline.name})` : s.name, r, r.baseline));
        for (const n of r.notes ?? []) notes.push(`${s.name}: ${n}`);
      } catch (err) {
        failed++;
        rows.push([s.name, "failed", "-", "-", "-", "-", err instanceof Error ? err.message.split("\n")[0] : String(err)]);
      }
    }
    // The fetch-loop baseline is shown (after wrk's) when a scenario was compared with it.
    if (fetchBase && base.tool !== "fetch") {
      const fb = await fetchBase;
      rows.splice(1, 0, cells("healthz (fetch-loop baseline)", fb, fb));
    }
    rows.unshift(header);
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
    if (notes.length) console.log("\n" + notes.join("\n"));
    const out = join(import.meta.dir, "results.json");
    writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), bin: o.bin, options: { ...o, only: o.only ? [...o.only] : undefined }, results }, null, 2) + "\n");
    console.log(`\nresults written to ${out}`);
    // Benchmarks with their own set-up (a 100k-certificate hub, a 10k-lineage certbot tree),
    // run as their own processes and printed as they report.
    for (const b of STANDALONE) {
      if (o.only && !o.only.has(b.name)) continue;
      console.log(`\n== ${b.name} (${b.script}) ==`);
      const code = Bun.spawnSync([process.execPath, join(import.meta.dir, b.script)], { stdout: "inherit", stderr: "inherit" }).exitCode;
      if (code !== 0) failed++;
    }
  } finally {
    await hub.stop();
  }
  const hubErrors = hub.stderr().trim();
  if (hubErrors) {
    const lines = hubErrors.split("\n");
    console.log(`\nhub stderr (${lines.length} lines${lines.length > 20 ? ", last 20" : ""}):\n${lines.slice(-20).join("\n")}`);
  }
  if (o.profileDir) console.log(`\nhub CPU profile (.cpuprofile for Chrome DevTools, .md for reading) in ${o.profileDir}`);
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
