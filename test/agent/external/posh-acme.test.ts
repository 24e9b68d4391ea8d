// Posh-ACME reader on a fixture tree mirroring its config root: two servers (prod with a
// UTF-16LE+BOM dir.json/order.json from Windows PowerShell, staging from pwsh 7), `!` for `*`
// in a folder name, a renewal in progress (cert.cer.bak), an invalid order, a broken order.json,
// with real certificates issued by openssl at test time.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanExternalManagers } from "../../../src/agent/external";
import type { CertificateReport } from "../../../src/protocol/certificates";
import { type ScanResult, TestCa, copyFixture, fill, isolatedEnv, manager, only, openTree, opensslFacts, scanAsNobody } from "./helpers";

const DAY = 86_400_000;
const now = Date.now();
let root: string;
let result: ScanResult;
const prod = () => join(root, "LE_PROD", "1234567890");
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

beforeAll(async () => {
  root = join(copyFixture("posh-acme"), "Posh-ACME");
  const ca = new TestCa("Posh-ACME fixture CA");
  const issue = (dir: string, sans: string[], key: "rsa" | "ec", days = 90, file = "cert.cer") => {
    const pem = ca.issue(join(dir, file), join(dir, "cert.key"), { cn: sans[0]!, sans, key, endDate: new Date(now + days * DAY) });
    writeFileSync(join(dir, "chain.cer"), ca.pem);
    writeFileSync(join(dir, "fullchain.cer"), pem + ca.pem);
  };
  issue(join(prod(), "!.example.test"), ["*.example.test", "example.test"], "ec");
  issue(join(prod(), "site.example.test"), ["site.example.test", "www.site.example.test", "api.site.example.test"], "rsa");
  issue(join(prod(), "failed.example.test"), ["failed.example.test"], "ec", 20);
  issue(join(root, "LE_STAGE", "55555555", "stage.example.test"), ["stage.example.test"], "ec");
  // A renewal in flight: New-PAOrder renamed the previous files to *.bak.
  const renewing = join(prod(), "renewing.example.test");
  issue(renewing, ["renewing.example.test"], "ec", 25);
  for (const f of ["cert.cer", "chain.cer", "fullchain.cer"]) renameSync(join(renewing, f), join(renewing, `${f}.bak`));
  for (const order of [join(prod(), "!.example.test"), join(prod(), "site.example.test"), join(root, "LE_STAGE", "55555555", "stage.example.test")]) {
    const notAfter = opensslFacts(join(order, "cert.cer")).notAfter;
    fill(join(order, "order.json"), { CERT_EXPIRES: iso(notAfter), RENEW_AFTER: iso(notAfter - 30 * DAY) });
  }
  result = await scanExternalManagers(only("posh-acme", root), isolatedEnv());
});

const byName = (name: string) => result.certificates.find((c) => c.name === name) as CertificateReport;

describe("Posh-ACME reader", () => {
  test("walks every server and account: five orders with certificates or in progress", () => {
    const m = manager(result, "posh-acme");
    expect(m.configPath).toBe(root);
    expect(m.certificateCount).toBe(5);
    expect(result.certificates.map((c) => c.name).toSorted()).toEqual(["*.example.test", "failed.example.test", "renewing.example.test", "site.example.test", "stage.example.test"]);
    for (const c of result.certificates) expect(c.id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
  });

  test("a wildcard order in a `!` folder with UTF-16LE+BOM JSON: domains, dates, serial, next renewal, settings", () => {
    const c = byName("*.example.test");
    const dir = join(prod(), "!.example.test");
    const facts = opensslFacts(join(dir, "cert.cer"));
    expect(c.domains.toSorted()).toEqual(["*.example.test", "example.test"]);
    expect(c).toMatchObject({ source: "posh-acme", status: "valid", serial: facts.serial, notAfter: facts.notAfter, notBefore: facts.notBefore, identifier: dir, lastError: null });
    expect(c.nextRenewalAt).toBe(Math.floor(facts.notAfter / 1000) * 1000 - 30 * DAY);
    expect(c.settings).toMatchObject({ ca: "https://acme-v02.api.letsencrypt.org/directory", plugin: "Cloudflare", challenge: "dns-01", keyType: "ecdsa-p256" });
    expect(c.paths).toMatchObject({ cert: join(dir, "cert.cer"), fullchain: join(dir, "fullchain.cer"), config: join(dir, "order.json") });
  });

  test("RSA multi-SAN order (pwsh 7 UTF-8) and the staging server's order", () => {
    const site = byName("site.example.test");
    expect(site.domains.toSorted()).toEqual(["api.site.example.test", "site.example.test", "www.site.example.test"]);
    expect(site.settings).toMatchObject({ challenge: "http-01", keyType: "rsa-2048" });
    const stage = byName("stage.example.test");
    expect(stage.settings?.ca).toBe("https://acme-staging-v02.api.letsencrypt.org/directory");
    expect(stage.settings?.keyType).toBe("ecdsa-p384");
    expect(stage.id).not.toBe(site.id);
  });

  test("renewal in progress: the certificate in use is cert.cer.bak, said so in lastError", () => {
    const c = byName("renewing.example.test");
    const dir = join(prod(), "renewing.example.test");
    expect(c.serial).toBe(opensslFacts(join(dir, "cert.cer.bak")).serial);
    expect(c.paths?.cert).toBe(join(dir, "cert.cer.bak"));
    expect(c.status).toBe("valid"); // 25 days left, nothing failed yet
    expect(c.lastError).toContain("cert.cer.bak");
    expect(c.lastError).toContain('"pending"');
    expect(c.nextRenewalAt).toBeNull(); // New-PAOrder reset RenewAfter
  });

  test("an invalid order is failed", () => {
    const c = byName("failed.example.test");
    expect(c.status).toBe("failed");
    expect(c.lastError).toContain("invalid");
  });

  test("a broken order.json is a problem naming it; no secret is reported", () => {
    const m = manager(result, "posh-acme");
    expect(m.status).toBe("error");
    expect(m.problems).toHaveLength(1);
    expect(m.problems[0]).toContain(join(prod(), "broken", "order.json"));
    const all = JSON.stringify(result);
    expect(all).not.toContain("posh-acme-account-private-key-must-never-be-reported");
    expect(all).not.toContain("01000000d08c9ddf0115d1118c7a00c04fc297eb");
  });

  test("as another user: an unreadable account folder is a problem, other servers still reported", async () => {
    openTree(root);
    chmodSync(prod(), 0o700);
    const r = await scanAsNobody(only("posh-acme", root), isolatedEnv("/nonexistent"));
    const m = manager(r, "posh-acme");
    expect(r.certificates.map((c) => c.name)).toEqual(["stage.example.test"]);
    expect(m.problems.join("\n")).toContain(`cannot list ${prod()}: permission denied`);
    chmodSync(prod(), 0o755);
  });

  test("POSHACME_HOME is the default root when set", async () => {
    const r = await scanExternalManagers({ certbot: { enabled: false }, "acme.sh": { enabled: false }, "simple-acme": { enabled: false }, "win-acme": { enabled: false } }, { ...isolatedEnv(), env: { POSHACME_HOME: root } });
    expect(manager(r, "posh-acme").certificateCount).toBe(5);
    expect(readFileSync(join(root, "LE_PROD", "dir.json"))[0]).toBe(0xff); // still the UTF-16 file
  });
});
