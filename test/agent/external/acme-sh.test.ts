// acme.sh reader on a fixture tree mirroring ~/.acme.sh (mixed quoting, base64 values, _ecc
// folders, a wildcard folder, a never-issued conf, an acme.sh 2.x conf, a malformed conf,
// LOG_FILE with a failed renewal) with real certificates issued by openssl at test time.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { scanExternalManagers } from "../../../src/agent/external";
import type { CertificateReport } from "../../../src/protocol/certificates";
import type { ExternalManagersSetting } from "../../../src/protocol/settings";
import { type ScanResult, TestCa, copyFixture, fill, isolatedEnv, manager, openTree, opensslFacts, scanAsNobody } from "./helpers";

const DAY = 86_400_000;
const now = Date.now();
const sec = (ms: number) => Math.floor(ms / 1000);
let home: string;
let acme: string;
let result: ScanResult;
const pwned = () => join(home, "pwned");
// Only acme.sh, found through its default path in the (temporary) home of the agent's user.
const setting: ExternalManagersSetting = { certbot: { enabled: false }, "posh-acme": { enabled: false }, "simple-acme": { enabled: false }, "win-acme": { enabled: false } };

const NEXT: Record<string, number> = {
  "example.test": now + 30 * DAY,
  "example.test_ecc": now + 31 * DAY,
  "*.wild.example.test_ecc": now + 32 * DAY,
  "shop.example.test": now + 20 * DAY,
  "old.example.test": now - 3 * DAY, // the cron job has not renewed it for 3 days
  "locked.example.test": now + 30 * DAY,
};

beforeAll(() => {
  home = copyFixture("acme.sh");
  acme = join(home, ".acme.sh");
  const ca = new TestCa("acme.sh fixture CA");
  const issue = (dir: string, domain: string, key: "rsa" | "ec", sans: string[], endDays = 60) => {
    const d = join(acme, dir);
    ca.issue(join(d, `${domain}.cer`), join(d, `${domain}.key`), { cn: sans[0]!, sans, key, endDate: new Date(now + endDays * DAY) });
    Bun.write(join(d, "ca.cer"), ca.pem);
    Bun.write(join(d, "fullchain.cer"), `${require("node:fs").readFileSync(join(d, `${domain}.cer`), "utf8")}${ca.pem}`);
  };
  issue("example.test", "example.test", "rsa", ["example.test", "www.example.test", "api.example.test"]);
  issue("example.test_ecc", "example.test", "ec", ["example.test"]);
  issue("*.wild.example.test_ecc", "*.wild.example.test", "ec", ["*.wild.example.test", "wild.example.test"]);
  issue("shop.example.test", "shop.example.test", "rsa", ["shop.example.test"]);
  issue("old.example.test", "old.example.test", "rsa", ["old.example.test"], 40);
  issue("locked.example.test", "locked.example.test", "ec", ["locked.example.test"]);
  for (const [dir, next] of Object.entries(NEXT)) {
    const domain = dir.replace(/_ecc$/, "");
    fill(join(acme, dir, `${domain}.conf`), { CREATED: sec(now - DAY), NEXT: sec(next), PWNED: pwned() });
  }
  fill(join(acme, "account.conf"), {});
  Bun.spawnSync(["sed", "-i", `s#^LOG_FILE=.*#LOG_FILE='${join(acme, "acme.sh.log")}'#`, join(acme, "account.conf")]);
});

const byId = (r: ScanResult, id: string) => r.certificates.find((c) => c.id === id) as CertificateReport;

describe("acme.sh reader", () => {
  beforeAll(async () => {
    result = await scanExternalManagers(setting, isolatedEnv(home));
  });

  test("finds ~/.acme.sh of the agent's user and reports one certificate per domain folder (RSA and _ecc apart)", () => {
    const m = manager(result, "acme.sh");
    expect(m.configPath).toBe(acme);
    expect(m.certificateCount).toBe(7);
    expect(result.certificates.map((c) => c.id).toSorted()).toEqual(
      expect.arrayContaining(["acme.sh:example.test", "acme.sh:example.test_ecc", "acme.sh:shop.example.test", "acme.sh:pending.example.test", "acme.sh:old.example.test", "acme.sh:locked.example.test"]),
    );
    for (const c of result.certificates) expect(c.id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(new Set(result.certificates.map((c) => c.id)).size).toBe(7);
  });

  test("RSA multi-SAN: domains, serial, dates from the .cer; next renewal from Le_NextRenewTime; settings from the conf", () => {
    const c = byId(result, "acme.sh:example.test");
    const facts = opensslFacts(join(acme, "example.test", "example.test.cer"));
    expect(c.domains.toSorted()).toEqual(["api.example.test", "example.test", "www.example.test"]);
    expect(c).toMatchObject({ name: "example.test", source: "acme.sh", status: "valid", serial: facts.serial, notAfter: facts.notAfter, notBefore: facts.notBefore, lastError: null });
    expect(c.issuer).toBe("CN=acme.sh fixture CA");
    expect(c.nextRenewalAt).toBe(sec(NEXT["example.test"]!) * 1000);
    expect(c.settings).toMatchObject({ ca: "https://acme-v02.api.letsencrypt.org/directory", challenge: "http-01", mode: "webroot", keyType: "rsa-2048" });
    expect(c.paths).toMatchObject({ cert: join(acme, "example.test", "example.test.cer"), fullchain: join(acme, "example.test", "fullchain.cer"), config: join(acme, "example.test", "example.test.conf"), installedFullchain: "/etc/nginx/ssl/example.test.fullchain.pem" });
  });

  test("ECDSA (_ecc folder) and a wildcard folder", () => {
    const ecc = byId(result, "acme.sh:example.test_ecc");
    expect(ecc.domains).toEqual(["example.test"]);
    expect(ecc.settings).toMatchObject({ ca: "https://acme.zerossl.com/v2/DV90", challenge: "dns-01", mode: "dns_cf", keyType: "ecdsa-p256" });
    expect(ecc.serial).toBe(opensslFacts(join(acme, "example.test_ecc", "example.test.cer")).serial);
    const wild = result.certificates.find((c) => c.name === "*.wild.example.test")!;
    expect(wild.id).toStartWith("acme.sh:_.wild.example.test_ecc-");
    expect(wild.domains.toSorted()).toEqual(["*.wild.example.test", "wild.example.test"]);
    expect(wild.settings?.keyType).toBe("ecdsa-p384");
  });

  test("a renewal that failed in LOG_FILE is failed, with acme.sh's error", () => {
    const c = byId(result, "acme.sh:shop.example.test");
    expect(c.status).toBe("failed");
    expect(c.lastError).toContain("Invalid response from http://shop.example.test/.well-known/acme-challenge/x8Yq: 404");
    expect(byId(result, "acme.sh:example.test").status).toBe("valid"); // skipped in the same cron run
  });

  test("never issued (no Le_CertCreateTime, no .cer) is pending with the conf's domains, not an error", () => {
    const c = byId(result, "acme.sh:pending.example.test");
    expect(c).toMatchObject({ status: "pending", notAfter: null, serial: null, domains: ["pending.example.test", "www.pending.example.test"] });
    expect(c.settings?.challenge).toBe("dns-01");
    expect(manager(result, "acme.sh").problems.join("\n")).not.toContain("pending.example.test");
  });

  test("acme.sh 2.x conf (bare values, old date format) overdue for renewal is expiring with an explanation", () => {
    const c = byId(result, "acme.sh:old.example.test");
    expect(c.status).toBe("expiring");
    expect(c.nextRenewalAt).toBe(sec(NEXT["old.example.test"]!) * 1000);
    expect(c.lastError).toContain("renewal overdue since");
    expect(c.settings).toMatchObject({ keyType: "rsa-4096", challenge: "http-01", mode: "no" });
  });

  test("the conf is parsed, never sourced: no command in it ran, no credential is reported", () => {
    expect(existsSync(pwned())).toBe(false);
    expect(JSON.stringify(result)).not.toContain("cf-token-must-never-be-reported");
    expect(JSON.stringify(result)).not.toContain("0123456789abcdef0123456789abcdef");
  });

  test("a malformed conf is one problem naming it; status error; the others are still reported", () => {
    const m = manager(result, "acme.sh");
    expect(m.status).toBe("error");
    const broken = join(acme, "broken.example.test", "broken.example.test.conf");
    expect(m.problems).toHaveLength(1);
    expect(m.problems[0]).toContain(broken);
    expect(m.problems[0]).toContain("Le_Domain");
  });

  test("as a user that cannot read one folder: that folder is a problem, the rest are reported", async () => {
    openTree(home);
    chmodSync(join(acme, "locked.example.test"), 0o700);
    const r = await scanAsNobody(setting, isolatedEnv(home));
    const m = manager(r, "acme.sh");
    expect(r.certificates.map((c) => c.id)).not.toContain("acme.sh:locked.example.test");
    expect(r.certificates).toHaveLength(6);
    expect(m.problems.join("\n")).toContain(`cannot read ${join(acme, "locked.example.test", "locked.example.test.conf")}: permission denied`);
  });

  test("a configured path that does not exist is not-found; a disabled client is not read", async () => {
    const env = { ...isolatedEnv(), isRoot: true };
    const r = await scanExternalManagers({ ...setting, "acme.sh": { enabled: true, configPath: join(home, "nothing-here") } }, env);
    expect(manager(r, "acme.sh")).toMatchObject({ status: "not-found", certificateCount: 0, problems: [] });
    const d = await scanExternalManagers({ ...setting, "acme.sh": { enabled: false } }, isolatedEnv(home));
    expect(manager(d, "acme.sh")).toMatchObject({ status: "disabled", certificateCount: 0, scannedAt: null });
    expect(d.certificates).toHaveLength(0);
  });
});
