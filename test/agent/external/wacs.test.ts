// simple-acme and win-acme readers on fixture trees mirroring %ProgramData%\simple-acme and
// %ProgramData%\win-acme copied to this host: *.renewal.json per ACME server folder, PemFiles
// certificates issued by openssl at test time, an IIS renewal without host names, a failed
// last run, a certificate-store-only renewal with `enc-` values, a legacy win-acme 2.1 entry,
// an Id/file-name mismatch and a truncated file.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { scanExternalManagers } from "../../../src/agent/external";
import type { CertificateReport } from "../../../src/protocol/certificates";
import type { ExternalManagersSetting } from "../../../src/protocol/settings";
import { tempDir } from "../../helpers";
import { type ScanResult, TestCa, copyFixture, fill, isolatedEnv, manager, openTree, opensslFacts, scanAsNobody } from "./helpers";

const DAY = 86_400_000;
const now = Date.now();
let simple: string;
let win: string;
let pemDir: string;
let result: ScanResult;
let setting: ExternalManagersSetting;
/** .NET's round-trip format: 7 fractional digits, Z. */
const dotnet = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
/** Newtonsoft-era local time with an offset (+01:00). */
const legacy = (ms: number) => new Date(ms + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "+01:00");

const prodDir = () => join(simple, "acme-v02.api.letsencrypt.org");

beforeAll(async () => {
  simple = join(copyFixture("simple-acme"), "simple-acme");
  win = join(copyFixture("win-acme"), "win-acme");
  pemDir = join(tempDir("ext-pem-"), "ssl");
  mkdirSync(pemDir);
  const ca = new TestCa("simple-acme fixture CA");
  const issue = (name: string, sans: string[], key: "rsa" | "ec", days: number) =>
    ca.issue(join(pemDir, `${name}-crt.pem`), join(pemDir, `${name}-key.pem`), { cn: sans[0]!, sans, key, endDate: new Date(now + days * DAY) });
  issue("example.test", ["example.test", "www.example.test", "api.example.test"], "ec", 90);
  issue("iis-site1", ["intranet.example.test", "portal.example.test"], "rsa", 90);
  issue("shop.example.test", ["shop.example.test"], "ec", 12);
  const expiry = (name: string) => dotnet(opensslFacts(join(pemDir, `${name}-crt.pem`)).notAfter);
  const values = {
    PEM_DIR: pemDir,
    RUN: dotnet(now - 5 * DAY),
    DUE: dotnet(now + 50 * DAY),
    RUN_OLD: dotnet(now - 80 * DAY),
    DUE_OLD: dotnet(now - 25 * DAY),
    EXPIRE_example: expiry("example.test"),
    EXPIRE_iis: expiry("iis-site1"),
    EXPIRE_shop: expiry("shop.example.test"),
    EXPIRE_store: dotnet(now + 70 * DAY),
  };
  for (const f of ["AbCdEf0123456789xyZ_-w", "IisSiteTarget000000001", "FailedRenewal000000001", "WinStoreOnly000000001x"]) fill(join(prodDir(), `${f}.renewal.json`), values);
  fill(join(win, "acme-v02.api.letsencrypt.org", "LegacyRenewal000000001.renewal.json"), { LEGACY_RUN: legacy(now - 10 * DAY), LEGACY_EXPIRE: legacy(now + 80 * DAY) });
  setting = { certbot: { enabled: false }, "acme.sh": { enabled: false }, "posh-acme": { enabled: false }, "simple-acme": { enabled: true, configPath: simple }, "win-acme": { enabled: true, configPath: win } };
  result = await scanExternalManagers(setting, isolatedEnv());
});

const byId = (id: string) => result.certificates.find((c) => c.id === id) as CertificateReport;

describe("simple-acme / win-acme readers", () => {
  test("one certificate per valid renewal file, in every server folder; ids unique per client", () => {
    expect(manager(result, "simple-acme").certificateCount).toBe(5);
    expect(manager(result, "win-acme").certificateCount).toBe(1);
    expect(result.certificates.map((c) => c.id).toSorted()).toEqual([
      "simple-acme:AbCdEf0123456789xyZ_-w",
      "simple-acme:FailedRenewal000000001",
      "simple-acme:IisSiteTarget000000001",
      "simple-acme:StagingRenewal00000001",
      "simple-acme:WinStoreOnly000000001x",
      "win-acme:LegacyRenewal000000001",
    ]);
  });

  test("manual target with PemFiles: facts from the certificate, due date from history, settings, enc- value not decrypted", () => {
    const c = byId("simple-acme:AbCdEf0123456789xyZ_-w");
    const facts = opensslFacts(join(pemDir, "example.test-crt.pem"));
    expect(c).toMatchObject({ name: "[Manual] example.test", source: "simple-acme", status: "valid", serial: facts.serial, notAfter: facts.notAfter, notBefore: facts.notBefore, identifier: "AbCdEf0123456789xyZ_-w", lastError: null });
    expect(c.domains.toSorted()).toEqual(["api.example.test", "example.test", "www.example.test"]);
    expect(c.nextRenewalAt).toBe(now + 50 * DAY);
    expect(c.paths).toMatchObject({ cert: join(pemDir, "example.test-crt.pem"), key: join(pemDir, "example.test-key.pem"), config: join(prodDir(), "AbCdEf0123456789xyZ_-w.renewal.json") });
    expect(c.settings).toMatchObject({ ca: "https://acme-v02.api.letsencrypt.org/", challenge: "dns-01", keyType: "ecdsa", target: "manual", store: "pemfiles", thumbprint: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d" });
    expect(c.settings?.protectedValues).toContain("PfxPasswordProtected: encrypted with Windows DPAPI for its machine (not decrypted)");
    expect(c.settings?.protectedValues).toContain("ValidationPluginOptions.ApiToken: vault://json/cloudflare-example");
    expect(JSON.stringify(result)).not.toContain("AQAAANCMnd8BFdERjHoAwE");
  });

  test("IIS renewal without host names: the domains come from the certificate", () => {
    const c = byId("simple-acme:IisSiteTarget000000001");
    expect(c.domains.toSorted()).toEqual(["intranet.example.test", "portal.example.test"]);
    expect(c.serial).toBe(opensslFacts(join(pemDir, "iis-site1-crt.pem")).serial);
    expect(c.settings).toMatchObject({ target: "iis", keyType: "rsa", challenge: "http-01", store: "pemfiles, certificatestore" });
  });

  test("a failed last run is failed with the recorded errors", () => {
    const c = byId("simple-acme:FailedRenewal000000001");
    expect(c.status).toBe("failed");
    expect(c.lastError).toContain("Validation failed");
    expect(c.lastError).toContain("Invalid response from http://shop.example.test/.well-known/acme-challenge/abc");
    expect(c.nextRenewalAt).toBe(now - 25 * DAY); // due date of the last successful run
  });

  test("certificate-store-only renewal: expiry from the history (no file here), enc- values reported as set", () => {
    const c = byId("simple-acme:WinStoreOnly000000001x");
    expect(c).toMatchObject({ status: "valid", serial: null, notAfter: now + 70 * DAY, domains: ["store.example.test"] });
    expect(c.settings?.notAfterSource).toContain("renewal history");
    expect(c.settings?.protectedValues).toContain("ValidationPluginOptions.ApiToken: encrypted with Windows DPAPI");
  });

  test("a renewal never run (staging server) is pending with its target's names", () => {
    const c = byId("simple-acme:StagingRenewal00000001");
    expect(c).toMatchObject({ status: "pending", notAfter: null, domains: ["staging.example.test", "www.staging.example.test"] });
    expect(c.settings?.ca).toBe("acme-staging-v02.api.letsencrypt.org");
  });

  test("win-acme 2.1 legacy entry: offsets normalised, due date computed as DueDateStaticService does", () => {
    const c = byId("win-acme:LegacyRenewal000000001");
    const run = Math.floor((now - 10 * DAY) / 1000) * 1000;
    expect(c.notAfter).toBe(Math.floor((now + 80 * DAY) / 1000) * 1000);
    expect(c.nextRenewalAt).toBe(run + 55 * DAY);
    expect(c.paths?.cert).toBe("C:\\ssl\\legacy\\legacy.example.test-crt.pem"); // reported as-is, not mapped
    expect(manager(result, "win-acme")).toMatchObject({ status: "ok", problems: [], configPath: win });
  });

  test("Id/file-name mismatch and a truncated file: one problem each, as simple-acme words them", () => {
    const m = manager(result, "simple-acme");
    expect(m.status).toBe("error");
    expect(m.problems).toHaveLength(2);
    expect(m.problems.find((p) => p.includes("Mismatch00000000000001.renewal.json"))).toContain("mismatch between file name and Id SomethingElse000000001");
    expect(m.problems.find((p) => p.includes("Truncated0000000000001.renewal.json"))).toContain("not valid JSON");
  });

  test("as another user: an unreadable server folder is named; the other server is still read", async () => {
    openTree(simple);
    openTree(win);
    openTree(pemDir);
    chmodSync(prodDir(), 0o700);
    const r = await scanAsNobody(setting, isolatedEnv("/nonexistent"));
    expect(r.certificates.filter((c) => c.source === "simple-acme").map((c) => c.name)).toEqual(["[Manual] staging.example.test"]);
    expect(manager(r, "simple-acme").problems.join("\n")).toContain(`cannot list ${prodDir()}: permission denied`);
    expect(manager(r, "win-acme").certificateCount).toBe(1);
    chmodSync(prodDir(), 0o755);
  });

  test("on Linux, simple-acme/win-acme without a configured path are not-found (no default there for win-acme)", async () => {
    const r = await scanExternalManagers({ certbot: { enabled: false }, "acme.sh": { enabled: false }, "posh-acme": { enabled: false } }, isolatedEnv());
    expect(manager(r, "win-acme")).toMatchObject({ status: "not-found", configPath: null, problems: [] });
    expect(manager(r, "simple-acme").status).toBe("not-found");
  });
});
