#!/usr/bin/env bun
// `npm test`: ensure Debian test peers, build dist/certhub, run `bun test` over test/,
// and end with the line `N passed, N failed`.
//
//   npm test                      whole suite
//   npm test -- test/db           a subset (any `bun test` arguments pass through)
//   npm test -- -t "login"        filter by test name (still limited to test/)
//
// Environment:
//   CERTHUB_BIN=/path/to/certhub   test that binary instead of building dist/certhub
//   CERTHUB_SKIP_PEERS=1           don't check/install Debian peers (tests needing them skip/fail)
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const JUNIT = join(ROOT, "test-results/junit.xml");

/**
 * Debian packages the tests drive for real. `bin` is how we tell whether it is installed
 * (an absolute path, or a command looked up on PATH). Add pebble, certbot, … here.
 */
export const TEST_PEERS: Array<{ pkg: string; bin: string }> = [
  { pkg: "chromium", bin: "/usr/bin/chromium" },
  { pkg: "certbot", bin: "certbot" },
  // agent deployment tests: PKCS#12 oracles and the nginx reload preset (test/agent/deploy)
  { pkg: "openssl", bin: "/usr/bin/openssl" },
  { pkg: "openjdk-17-jre-headless", bin: "/usr/bin/keytool" },
  { pkg: "nginx-light", bin: "/usr/sbin/nginx" },
  // the apache / haproxy / postfix reload presets against the real servers (test/agent/deploy/presets.test.ts);
  // none starts a system service here (policy-rc.d), postfix takes its debconf defaults without a prompt
  { pkg: "apache2", bin: "/usr/sbin/apache2" },
  { pkg: "haproxy", bin: "/usr/sbin/haproxy" },
  { pkg: "postfix", bin: "/usr/sbin/postfix" },
  // ACME client tests (test/agent/acme): Pebble 2.4 is the fallback (2.10 is fetched from Debian sid
  // by test/helpers/acme-peers.ts into node_modules/.cache), BIND + dig for RFC 2136, curl for hooks
  { pkg: "pebble", bin: "/usr/bin/pebble" },
  { pkg: "bind9", bin: "/usr/sbin/named" },
  { pkg: "bind9-dnsutils", bin: "/usr/bin/dig" },
  { pkg: "curl", bin: "/usr/bin/curl" },
];

function installed(bin: string): boolean {
  return bin.startsWith("/") ? existsSync(bin) : Bun.which(bin) !== null;
}

function run(cmd: string[], env: Record<string, string | undefined> = process.env): number {
  console.log(`$ ${cmd.join(" ")}`);
  return Bun.spawnSync(cmd, { cwd: ROOT, env, stdout: "inherit", stderr: "inherit" }).exitCode ?? 1;
}

/** Returns an error message, or null when every peer is present (installing them as root). */
function ensurePeers(): string | null {
  if (process.env.CERTHUB_SKIP_PEERS) return null;
  let missing = TEST_PEERS.filter((p) => !installed(p.bin)).map((p) => p.pkg);
  if (missing.length === 0) return null;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !Bun.which("apt-get")) {
    return (
      `missing test peers: ${missing.join(" ")}\n` +
      `install them with:  sudo apt-get install -y ${missing.join(" ")}\n` +
      `(or run npm test as root on Debian to install them automatically; CERTHUB_SKIP_PEERS=1 skips this check)`
    );
  }
  console.log(`installing test peers: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (run(["apt-get", "update"], env) !== 0) return "apt-get update failed";
  if (run(["apt-get", "install", "-y", ...missing], env) !== 0) return `apt-get install ${missing.join(" ")} failed`;
  missing = TEST_PEERS.filter((p) => !installed(p.bin)).map((p) => p.pkg);
  return missing.length ? `still missing after install: ${missing.join(" ")}` : null;
}

/** Bun test flags that take a separate value (so the value is not mistaken for a path). */
const VALUE_FLAGS = new Set([
  "-t", "--test-name-pattern", "--timeout", "--rerun-each", "--preload", "-r", "--seed",
  "--coverage-reporter", "--coverage-dir", "--reporter", "--reporter-outfile", "--max-concurrency",
]);

function hasPathArg(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (VALUE_FLAGS.has(a)) i++;
    else if (!a.startsWith("-")) return true;
  }
  return false;
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");

/** Counts from bun's console summary (` N pass`, ` N fail`); includes errors between tests. */
function parseSummary(stderrTail: string): { pass: number; fail: number } | null {
  const text = stripAnsi(stderrTail);
  const at = text.lastIndexOf("Ran ");
  const ran = text.slice(at).match(/^Ran (\d+) tests? across (\d+) files?/m);
  if (at < 0 || !ran) return null;
  const block = text.slice(Math.max(0, text.lastIndexOf("\n\n", at - 2)), at);
  const num = (label: string) => Number(block.match(new RegExp(`^\\s*(\\d+) ${label}\\b`, "m"))?.[1] ?? 0);
  return { pass: num("pass"), fail: num("fail") };
}

/** Counts from the JUnit file (misses failures outside tests, hence only a fallback). */
function parseJunit(): { pass: number; fail: number } | null {
  if (!existsSync(JUNIT)) return null;
  const head = readFileSync(JUNIT, "utf8").match(/<testsuites\b[^>]*>/)?.[0];
  if (!head) return null;
  const attr = (n: string) => Number(head.match(new RegExp(`\\b${n}="(\\d+)"`))?.[1] ?? 0);
  const fail = attr("failures") + attr("errors");
  return { pass: attr("tests") - fail - attr("skipped"), fail };
}

async function main(args: string[]): Promise<{ pass: number; fail: number }> {
  const peerError = ensurePeers();
  if (peerError) {
    console.error(peerError);
    return { pass: 0, fail: 1 };
  }

  let extraFailures = 0;
  const env: Record<string, string | undefined> = { ...process.env };
  if (!env.CERTHUB_BIN) {
    env.CERTHUB_BIN = join(ROOT, "dist/certhub");
    if (run([process.execPath, "scripts/build.ts"]) !== 0) {
      console.error("build failed: tests using the binary will fail");
      rmSync(env.CERTHUB_BIN, { force: true }); // never test a stale binary
      extraFailures++;
    }
  }

  mkdirSync(join(ROOT, "test-results"), { recursive: true });
  rmSync(JUNIT, { force: true });
  const testArgs = [...args];
  if (!hasPathArg(testArgs)) testArgs.unshift("./test");
  // bunfig's [test] timeout is not applied by every bun release; end-to-end tests need the room.
  if (!testArgs.includes("--timeout")) testArgs.push("--timeout", "60000");
  const cmd = [
    process.execPath, "test", ...testArgs,
    "--reporter=junit", `--reporter-outfile=${JUNIT}`,
  ];
  console.log(`$ ${cmd.join(" ").replace(process.execPath, "bun")}`);
  if (process.stderr.isTTY && !env.NO_COLOR) env.FORCE_COLOR = "1";
  const proc = Bun.spawn(cmd, { cwd: ROOT, env, stdin: "ignore", stdout: "inherit", stderr: "pipe" });

  // Stream bun's report (stderr) through while keeping its tail for the summary.
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    process.stderr.write(chunk);
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-65536);
  }
  const code = await proc.exited;

  const counts = parseSummary(tail) ?? parseJunit() ?? { pass: 0, fail: 0 };
  counts.fail += extraFailures;
  if (code !== 0 && counts.fail === 0) {
    // No tests found, a crash, or a failure bun did not count: never report a clean run.
    console.error(`bun test exited with code ${code}${counts.pass === 0 ? " (no tests ran?)" : ""}`);
    counts.fail = 1;
  } else if (counts.pass + counts.fail === 0) {
    console.error("no tests ran");
    counts.fail = 1;
  }
  if (existsSync(JUNIT)) console.log(`JUnit report: ${JUNIT.replace(ROOT + "/", "")}`);
  return counts;
}

main(process.argv.slice(2))
  .catch((err) => {
    console.error(`test runner: ${err instanceof Error ? err.stack : String(err)}`);
    return { pass: 0, fail: 1 };
  })
  .then(({ pass, fail }) => {
    console.log(`${pass} passed, ${fail} failed`);
    process.exit(fail > 0 ? 1 : 0);
  });
