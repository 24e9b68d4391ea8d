// A stricter Pebble: External Account Binding required and 30 % of good nonces rejected, with
// pebble-challtestsrv as its DNS (which also answers AAAA ::1, so HTTP-01 is validated over
// IPv6). Covers EAB, badNonce retries, the dual-stack listener and the lego-style exec hook.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AcmeProblem, ensureAccount, issueCertificate, preflight, type AccountKey, type SolverContext } from "../../../src/agent/acme";
import { runHook } from "../../../src/agent/acme/challenges/dns01-exec";
import type { Challenge } from "../../../src/protocol/certificates";
import { tempDir } from "../../helpers";
import { PEBBLE_EAB, startChallTestSrv, startPebble, type ChallTestSrv, type Pebble } from "../../helpers/acme-peers";

let dns: ChallTestSrv;
let pebble: Pebble;
let account: AccountKey;
const ctx = (allowScripts = true): SolverContext => ({ credentials: new Map(), allowScripts, log: () => {}, dnsResolver: dns.dnsServer });

beforeAll(async () => {
  dns = await startChallTestSrv();
  pebble = await startPebble({ dnsServer: dns.dnsServer, eabRequired: true, env: { PEBBLE_WFE_NONCEREJECT: "30" } });
}, 60_000);
afterAll(async () => {
  await pebble?.stop();
  await dns?.stop();
});

const base = () => ({ directoryUrl: pebble.directoryUrl, trustedRootsPem: pebble.caPem });

describe("External Account Binding (required by the CA)", () => {
  test("without EAB the CA refuses, in its own words", async () => {
    const err = await ensureAccount(base()).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblem);
    expect(err.type).toBe("urn:ietf:params:acme:error:externalAccountRequired");
    console.log(`  CA said: ${err.message}`);
    expect(err.message.length).toBeGreaterThan(5);
  });

  test("a wrong HMAC key is refused; the right one registers (HS256 binding)", async () => {
    const wrong = await ensureAccount({ ...base(), eab: { keyId: PEBBLE_EAB.keyId, hmacKey: Buffer.alloc(48, 9).toString("base64url") } }).catch((e) => e);
    expect(wrong).toBeInstanceOf(AcmeProblem);
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    account = await ensureAccount({ ...base(), eab: PEBBLE_EAB, email: "eab@example.test" });
    expect(account.accountUrl).toStartWith(pebble.directoryUrl.replace(/\/dir$/, ""));
    const again = await ensureAccount({ ...base(), existing: account });
    expect(again.accountUrl).toBe(account.accountUrl);
  });
});

describe("30 % nonce rejection", () => {
  test("three HTTP-01 issuances in a row succeed (badNonce is retried), validated over IPv6 on the dual-stack listener", async () => {
    const challenge: Challenge = { type: "http-01", port: pebble.httpPort };
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const cert = await issueCertificate({ ...base(), account, domains: [`n${i}.example.test`], keyType: "ecdsa-p256", challenge, ctx: ctx(false) });
      console.log(`  issuance ${i + 1} with 30 % bad nonces: ${Math.round(performance.now() - t0)} ms`);
      expect(cert.certPem).toContain("BEGIN CERTIFICATE");
    }
    // challtestsrv answers AAAA ::1 and Pebble prefers it: a listener on 127.0.0.1 alone fails,
    // which shows the default "::" listener above was reached over IPv6.
    const v4only = await issueCertificate({ ...base(), account, domains: ["v4only.example.test"], keyType: "ecdsa-p256", challenge: { type: "http-01", port: pebble.httpPort, address: "127.0.0.1" }, ctx: ctx(false) }).catch((e) => e);
    expect(v4only).toBeInstanceOf(AcmeProblem);
    expect(v4only.message).toContain("[::1]");
  }, 60_000);
});

describe("DNS-01 exec hook (lego-compatible)", () => {
  function hookScript(): { path: string; log: string } {
    const dir = tempDir("certhub-hook-");
    const log = join(dir, "calls.log");
    const path = join(dir, "hook.sh");
    writeFileSync(path, `#!/bin/sh
# lego exec provider argv: present|cleanup <fqdn.> <value>
echo "$1 $2 $3" >> "${log}"
case "$1" in
  present) curl -sf -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${dns.managementUrl}/set-txt ;;
  cleanup) curl -sf -X POST -d "{\\"host\\":\\"$2\\"}" ${dns.managementUrl}/clear-txt ;;
  *) echo "unknown mode $1" >&2; exit 2 ;;
esac
`);
    chmodSync(path, 0o755);
    return { path, log };
  }

  test("present/cleanup run with <fqdn.> <value>; apex and wildcard validate", async () => {
    const hook = hookScript();
    const challenge: Challenge = { type: "dns-01", provider: "exec", command: hook.path };
    const t0 = performance.now();
    const cert = await issueCertificate({ ...base(), account, domains: ["x.example.test", "*.x.example.test"], keyType: "ecdsa-p256", challenge, ctx: ctx() });
    console.log(`  issuance (DNS-01 exec hook, apex + wildcard, 30 % bad nonces): ${Math.round(performance.now() - t0)} ms`);
    expect(cert.certPem).toContain("BEGIN CERTIFICATE");
    const calls = readFileSync(hook.log, "utf8").trim().split("\n");
    const presents = calls.filter((c) => c.startsWith("present "));
    expect(presents.length).toBeGreaterThanOrEqual(1); // Pebble may reuse an authz
    for (const c of calls) expect(c).toMatch(/^(present|cleanup) _acme-challenge\.x\.example\.test\. [A-Za-z0-9_-]{43}$/);
    expect(calls.filter((c) => c.startsWith("cleanup ")).length).toBe(presents.length);
  }, 60_000);

  test("refused unless the host allows scripts", async () => {
    const hook = hookScript();
    const err = await issueCertificate({ ...base(), account, domains: ["y.example.test"], keyType: "ecdsa-p256", challenge: { type: "dns-01", provider: "exec", command: hook.path }, ctx: ctx(false) }).catch((e) => e);
    expect(err.message).toContain("scripts are not allowed");
    expect(existsSync(hook.log)).toBe(false);
  });

  test("preflight runs the hook and sees the TXT on the DNS server", async () => {
    const hook = hookScript();
    const steps = await preflight({ domains: ["pf.example.test"], challenge: { type: "dns-01", provider: "exec", command: hook.path }, ctx: ctx() });
    expect(steps[0]).toMatchObject({ outcome: "ok", domain: "pf.example.test" });
    expect(readFileSync(hook.log, "utf8")).toMatch(/^present _acme-challenge\.pf\.example\.test\. \S+\ncleanup /);
  });

  test("a failing hook's exit code and output reach the error", async () => {
    const dir = tempDir("certhub-hook-");
    const path = join(dir, "fail.sh");
    writeFileSync(path, "#!/bin/sh\necho 'provider says: zone locked' >&2\nexit 3\n");
    chmodSync(path, 0o755);
    const [step] = await preflight({ domains: ["f.example.test"], challenge: { type: "dns-01", provider: "exec", command: path }, ctx: ctx() });
    expect(step.outcome).toBe("failed");
    expect(step.message).toContain("exited with 3");
    expect(step.message).toContain("provider says: zone locked");
  });

  test("on timeout the hook's whole process group is killed (no grandchild survives)", async () => {
    const dir = tempDir("certhub-hook-");
    const path = join(dir, "slow.sh");
    const pidFile = join(dir, "grandchild.pid");
    writeFileSync(path, `#!/bin/sh\nsleep 30 &\necho $! > "${pidFile}"\nwait\n`);
    chmodSync(path, 0o755);
    const t0 = performance.now();
    const err = await runHook(path, ["present", "_acme-challenge.t.example.test.", "v"], 500).catch((e) => e);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(err.message).toContain("timed out");
    const pid = Number(readFileSync(pidFile, "utf8"));
    await Bun.sleep(100);
    let alive = true;
    try {
      process.kill(pid, 0);
      // A zombie still answers kill(0); its state in /proc says whether it is really gone.
      alive = !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
  });
});
