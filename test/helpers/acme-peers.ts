// Real ACME test peers as children of the test process, on free loopback ports:
//
//   await pebbleBinaries()  → { pebble, challtestsrv, version, source } (2.10 from Debian sid, cached
//                             under node_modules/.cache; else trixie; else bookworm's /usr/bin 2.4;
//                             CERTHUB_TEST_PEBBLE=system forces the latter)
//   await startPebble({ dnsServer, env?, eab?, chainLength?, alternateRoots? })
//       → { directoryUrl, managementUrl, caPem, caFile, httpPort, features: { ari, profiles }, rootPem(i), setRenewalInfo(), stop() }
//   await startChallTestSrv() → { dnsServer, managementUrl, setTxt(), clearTxt(), stop() }
//   await startBind({ zone, records, algorithms? }) → { server, tsig: { name, algorithm, secret }, keys, stop() }
//
// TLS for Pebble's own listener is made with openssl at start. Every daemon is stopped by its
// own handle (and by cleanup() after the run); nothing binds beyond 127.0.0.1.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Resolver } from "node:dns/promises";
import type { Subprocess } from "bun";
import { freePort, ROOT, tempDir } from "./index";

const registry: { procs: Set<Subprocess> } = ((globalThis as any)[Symbol.for("certhub.test.registry")] ??= { dirs: [], procs: new Set() });

export interface PebbleBinaries { pebble: string; challtestsrv: string; version: string; source: string }

function sh(cmd: string[], opts: { cwd?: string; stdin?: string } = {}): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, stdin: opts.stdin ? new TextEncoder().encode(opts.stdin) : "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? 1, out: r.stdout.toString() + r.stderr.toString() };
}

/** Downloads the pebble .deb of a Debian suite with a private apt config (the system's apt stays untouched). */
function fetchDebianPebble(suite: string, cacheDir: string): string | null {
  const root = join(cacheDir, suite, "root");
  if (existsSync(join(root, "usr/bin/pebble"))) return root;
  // The mirror apt already uses (deb822 or one-line format), else Debian's CDN.
  let mirror = "";
  const deb822 = "/etc/apt/sources.list.d/debian.sources";
  if (existsSync(deb822)) mirror = Bun.spawnSync(["awk", "/^URIs:/ && $2 !~ /security/ {print $2; exit}", deb822]).stdout.toString().trim();
  if (!mirror && existsSync("/etc/apt/sources.list"))
    mirror = Bun.spawnSync(["awk", "/^deb / && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }", "/etc/apt/sources.list"]).stdout.toString().trim();
  mirror ||= "http://deb.debian.org/debian";
  const work = join(cacheDir, `${suite}.tmp-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "lists/partial"), { recursive: true });
  mkdirSync(join(work, "cache/archives/partial"), { recursive: true });
  writeFileSync(join(work, "sources.list"), `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${suite} main\n`);
  const o = [
    "-o", `Dir::Etc::SourceList=${join(work, "sources.list")}`, "-o", "Dir::Etc::SourceParts=/dev/null",
    "-o", `Dir::State::Lists=${join(work, "lists")}`, "-o", `Dir::Cache=${join(work, "cache")}`,
    "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
  ];
  try {
    if (sh(["apt-get", ...o, "update"]).code !== 0) return null;
    if (sh(["apt-get", ...o, "download", "pebble"], { cwd: work }).code !== 0) return null;
    const deb = readdirSync(work).find((f) => f.startsWith("pebble_") && f.endsWith(".deb"));
    if (!deb || sh(["dpkg-deb", "-x", join(work, deb), join(work, "root")]).code !== 0) return null;
    mkdirSync(join(cacheDir, suite), { recursive: true });
    try {
      renameSync(join(work, "root"), root);
    } catch (err) {
      if (!existsSync(join(root, "usr/bin/pebble"))) throw err; // another run got there first
    }
    return root;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let binaries: Promise<PebbleBinaries> | null = null;

/** Pebble 2.10 (ARI + profiles) when it can be had; else what the system has, said loudly. */
export function pebbleBinaries(): Promise<PebbleBinaries> {
  return (binaries ??= (async () => {
    const cacheDir = process.env.CERTHUB_PEBBLE_CACHE ?? join(ROOT, "node_modules/.cache/certhub-pebble");
    // CERTHUB_TEST_PEBBLE=system skips the fetch (to exercise the fallback on purpose).
    const suites = process.env.CERTHUB_TEST_PEBBLE === "system" ? [] : ["sid", "trixie"];
    for (const suite of suites) {
      const root = Bun.which("apt-get") && Bun.which("dpkg-deb") ? fetchDebianPebble(suite, cacheDir) : null;
      // A newer suite's binary may need a newer libc one day: only use it if it runs here.
      if (root && sh([join(root, "usr/bin/pebble"), "-version"]).code !== 0) console.warn(`acme-peers: pebble from Debian ${suite} does not run here`);
      else if (root) {
        const pebble = join(root, "usr/bin/pebble");
        return { pebble, challtestsrv: join(root, "usr/bin/pebble-challtestsrv"), version: suite === "sid" ? "2.10" : "2.6", source: `Debian ${suite} (${root})` };
      }
    }
    if (existsSync("/usr/bin/pebble")) {
      const why = suites.length ? "could not fetch pebble from Debian sid/trixie" : "CERTHUB_TEST_PEBBLE=system";
      console.warn(`\n*** acme-peers: ${why}; using /usr/bin/pebble (2.4): ARI and profile tests will NOT run ***\n`);
      return { pebble: "/usr/bin/pebble", challtestsrv: "/usr/bin/pebble-challtestsrv", version: "2.4", source: "Debian bookworm /usr/bin" };
    }
    throw new Error("pebble is not installed (apt-get install pebble) and could not be fetched from Debian sid/trixie");
  })());
}

function spawnDaemon(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { proc: Subprocess; output: () => string; stop: () => Promise<void> } {
  let out = "";
  const proc = Bun.spawn(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  registry.procs.add(proc);
  const drain = async (s: ReadableStream<Uint8Array>) => { for await (const c of s) out = (out + new TextDecoder().decode(c)).slice(-20000); };
  void drain(proc.stdout as ReadableStream<Uint8Array>);
  void drain(proc.stderr as ReadableStream<Uint8Array>);
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
        await proc.exited;
        clearTimeout(t);
      }
      registry.procs.delete(proc);
    },
  };
}

async function waitFor(what: string, check: () => Promise<boolean>, daemon: { proc: Subprocess; output: () => string }, timeoutMs = 15000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (daemon.proc.exitCode !== null) throw new Error(`${what} exited (${daemon.proc.exitCode}):\n${daemon.output()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${daemon.output()}`);
    await Bun.sleep(50);
  }
}

/** A throw-away CA and a localhost/127.0.0.1 server certificate for Pebble's HTTPS listener. */
function makeTls(dir: string): { caPem: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = sh(["openssl", ...args], { cwd: dir });
    if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.out}`);
  };
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=certhub test pebble tls ca"]);
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "srv.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  run(["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "san.ext"]);
  return { caPem: require("node:fs").readFileSync(join(dir, "ca.pem"), "utf8"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

export const PEBBLE_EAB = { keyId: "kid-1", hmacKey: "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W" };

export interface PebbleOptions {
  /** host:port of the DNS server Pebble resolves identifiers through (BIND or challtestsrv). */
  dnsServer: string;
  env?: Record<string, string>;
  eabRequired?: boolean;
  chainLength?: number;
  alternateRoots?: number;
}

export interface Pebble {
  directoryUrl: string;
  managementUrl: string;
  caPem: string;
  /** The same CA as a file (REQUESTS_CA_BUNDLE for certbot, NODE_EXTRA_CA_CERTS). */
  caFile: string;
  httpPort: number;
  bin: PebbleBinaries;
  features: { ari: boolean; profiles: boolean };
  rootPem(i: number): Promise<string>;
  setRenewalInfo(certPem: string, body: unknown): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const bin = await pebbleBinaries();
  const dir = tempDir("certhub-pebble-");
  const tls = makeTls(dir);
  const [port, mgmt, httpPort] = [await freePort(), await freePort(), await freePort()];
  const modern = bin.version !== "2.4";
  const config: Record<string, unknown> = {
    listenAddress: `127.0.0.1:${port}`,
    managementListenAddress: `127.0.0.1:${mgmt}`,
    certificate: tls.cert,
    privateKey: tls.key,
    httpPort,
    tlsPort: await freePort(),
    ocspResponderURL: "",
    externalAccountBindingRequired: !!o.eabRequired,
    ...(o.eabRequired ? { externalAccountMACKeys: { [PEBBLE_EAB.keyId]: PEBBLE_EAB.hmacKey } } : {}),
  };
  if (bin.version === "2.10") {
    config.retryAfter = { authz: 1, order: 1 };
    config.profiles = { default: { description: "90 days", validityPeriod: 7776000 }, shortlived: { description: "6 days", validityPeriod: 518400 } };
  }
  writeFileSync(join(dir, "pebble-config.json"), JSON.stringify({ pebble: config }, null, 2));
  const env: Record<string, string> = { PEBBLE_VA_NOSLEEP: "1", ...o.env };
  if (o.chainLength) env.PEBBLE_CHAIN_LENGTH = String(o.chainLength);
  if (o.alternateRoots) env.PEBBLE_ALTERNATE_ROOTS = String(o.alternateRoots);
  const d = spawnDaemon([bin.pebble, "-config", join(dir, "pebble-config.json"), "-dnsserver", o.dnsServer], { cwd: dir, env });
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const tlsOpt = { tls: { ca: tls.caPem } } as RequestInit;
  let dirJson: any = null;
  await waitFor("pebble", async () => {
    const r = await fetch(directoryUrl, tlsOpt);
    dirJson = await r.json();
    return r.ok;
  }, d);
  const managementUrl = `https://127.0.0.1:${mgmt}`;
  return {
    directoryUrl, managementUrl, caPem: tls.caPem, caFile: join(dir, "ca.pem"), httpPort, bin,
    features: { ari: !!dirJson?.renewalInfo, profiles: !!dirJson?.meta?.profiles },
    async rootPem(i) {
      const r = await fetch(`${managementUrl}/roots/${i}`, tlsOpt);
      if (!r.ok) throw new Error(`pebble /roots/${i}: ${r.status}`);
      return r.text();
    },
    async setRenewalInfo(certPem, body) {
      const r = await fetch(`${managementUrl}/set-renewal-info/`, { ...tlsOpt, method: "POST", body: JSON.stringify({ Certificate: certPem, ARIResponse: JSON.stringify(body) }) });
      if (!r.ok) throw new Error(`pebble /set-renewal-info/: ${r.status} ${await r.text()}`);
    },
    output: d.output,
    stop: d.stop,
  };
}

export interface ChallTestSrv { dnsServer: string; managementUrl: string; setTxt(host: string, value: string): Promise<void>; stop(): Promise<void> }

/** pebble-challtestsrv as a DNS stub only (A → 127.0.0.1, AAAA → ::1; the agent serves HTTP-01 itself). */
export async function startChallTestSrv(): Promise<ChallTestSrv> {
  const bin = await pebbleBinaries();
  const [dnsPort, mgmt] = [await freePort(), await freePort()];
  const help = sh([bin.challtestsrv, "-h"]).out;
  const args = [bin.challtestsrv, help.includes("-dnsserver") ? "-dnsserver" : "-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `127.0.0.1:${mgmt}`];
  if (help.includes("-doh ")) args.push("-doh", "");
  const d = spawnDaemon(args);
  const managementUrl = `http://127.0.0.1:${mgmt}`;
  await waitFor("pebble-challtestsrv", async () => (await fetch(`${managementUrl}/dns-request-history`, { method: "POST", body: JSON.stringify({ host: "x" }) })).status < 500, d);
  return {
    dnsServer: `127.0.0.1:${dnsPort}`,
    managementUrl,
    async setTxt(host, value) {
      const r = await fetch(`${managementUrl}/set-txt`, { method: "POST", body: JSON.stringify({ host, value }) });
      if (!r.ok) throw new Error(`challtestsrv set-txt: ${r.status}`);
    },
    stop: d.stop,
  };
}

export interface TsigKeyFixture { name: string; algorithm: string; secret: string }
export interface Bind { server: string; zone: string; dir: string; tsig: TsigKeyFixture & { algorithm: "hmac-sha256" }; keys: Record<string, TsigKeyFixture>; output(): string; stop(): Promise<void> }

/**
 * BIND (named) authoritative for one zone, updatable for TXT only with TSIG keys made now by
 * tsig-keygen: `tsig` (hmac-sha256) plus one per algorithm in `algorithms` (in `keys`).
 */
export async function startBind(o: { zone: string; records: string[]; algorithms?: string[] }): Promise<Bind> {
  for (const b of ["/usr/sbin/named", "/usr/sbin/tsig-keygen"]) if (!existsSync(b)) throw new Error(`${b} missing: apt-get install bind9 bind9-dnsutils`);
  const dir = tempDir("certhub-named-");
  const port = await freePort();
  const keyName = "certhub-test.";
  const keys: Record<string, TsigKeyFixture> = {};
  let keyFile = "";
  for (const [name, algorithm] of [[keyName, "hmac-sha256"], ...(o.algorithms ?? []).map((a) => [`certhub-${a}.`, a])]) {
    const keygen = sh(["/usr/sbin/tsig-keygen", "-a", algorithm, name]);
    const secret = keygen.out.match(/secret "([^"]+)"/)?.[1];
    if (keygen.code !== 0 || !secret) throw new Error(`tsig-keygen -a ${algorithm} failed: ${keygen.out}`);
    keys[name === keyName ? "default" : algorithm] = { name, algorithm, secret };
    keyFile += keygen.out;
  }
  const secret = keys.default.secret;
  writeFileSync(join(dir, "tsig.key"), keyFile);
  const grants = Object.values(keys).map((k) => `grant ${k.name} zonesub TXT;`).join(" ");
  const zone = o.zone.replace(/\.$/, "");
  writeFileSync(join(dir, `${zone}.zone`), [
    "$TTL 60",
    `@ IN SOA ns1.${zone}. hostmaster.${zone}. ( 1 60 60 600 60 )`,
    `  IN NS ns1.${zone}.`,
    "ns1 IN A 127.0.0.1",
    ...o.records,
    "",
  ].join("\n"));
  writeFileSync(join(dir, "named.conf"), `include "${dir}/tsig.key";
options { directory "${dir}"; pid-file "${dir}/named.pid"; session-keyfile "${dir}/session.key";
  listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; dnssec-validation no;
  allow-query { any; }; notify no; };
controls { };
logging { channel f { file "${dir}/named.log"; severity info; print-time yes; };
  category default { f; }; category update { f; }; category security { f; }; };
zone "${zone}" { type primary; file "${dir}/${zone}.zone";
  update-policy { ${grants} }; };
`);
  const d = spawnDaemon(["/usr/sbin/named", "-4", "-f", "-c", join(dir, "named.conf")], { cwd: dir });
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  await waitFor("named", async () => (await r.resolveSoa(zone)).nsname.length > 0, d);
  return {
    server: `127.0.0.1:${port}`, zone, dir,
    tsig: { name: keyName, algorithm: "hmac-sha256", secret }, keys,
    output: () => d.output() + (existsSync(join(dir, "named.log")) ? require("node:fs").readFileSync(join(dir, "named.log"), "utf8") : ""),
    stop: d.stop,
  };
}
