// certbot for real: Debian's certbot issues two certificates (RSA with several SANs, ECDSA)
// from a real Pebble into a private --config-dir; the reader must report both with the right
// domains, dates and serials, see the new serial after `certbot renew --force-renewal`, report
// a failed renewal from certbot's log, and tell a non-root agent what it cannot read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanExternalManagers } from "../../../src/agent/external";
import { tempDir } from "../../helpers";
import { isolatedEnv, manager, only, openUp, opensslFacts, run, scanAsNobody } from "./helpers";
import { type Pebble, requireBinary, startPebble } from "./pebble";

const DAY = 86_400_000;
let pebble: Pebble;
let base: string;
let configDir: string;
let logsDir: string;
let certbotBin: string;

function certbot(args: string[]): string {
  return run(
    [certbotBin, ...args, "--non-interactive", "--config-dir", configDir, "--work-dir", join(base, "work"), "--logs-dir", logsDir, "--server", pebble.directoryUrl],
    { env: { REQUESTS_CA_BUNDLE: pebble.caFile } },
  );
}

function issue(name: string, domains: string[], keyArgs: string[]) {
  certbot([
    "certonly", "--agree-tos", "-m", "admin@example.test", "--no-eff-email", "--cert-name", name, ...keyArgs,
    "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", String(httpPort),
    ...domains.flatMap((d) => ["-d", d]),
  ]);
}
let httpPort = 0;

beforeAll(async () => {
  certbotBin = requireBinary("certbot", "certbot");
  base = tempDir("certbot-real-");
  configDir = join(base, "etc");
  logsDir = join(base, "log");
  mkdirSync(join(base, "pebble"));
  pebble = await startPebble(join(base, "pebble"));
  httpPort = await (await import("../../helpers")).freePort();
  issue("multi.example.test", ["multi.example.test", "www.multi.example.test", "api.multi.example.test"], ["--key-type", "rsa", "--rsa-key-size", "2048"]);
  issue("ec.example.test", ["ec.example.test"], ["--key-type", "ecdsa", "--elliptic-curve", "secp256r1"]);
}, 120_000);

afterAll(async () => {
  await pebble?.stop();
});

const scan = () => scanExternalManagers(only("certbot", configDir, logsDir), isolatedEnv());

describe("certbot reader against a real certbot tree", () => {
  test("reports both certificates with the domains, dates, serial and issuer of the issued files", async () => {
    const { certificates, managers } = await scan();
    const m = managers.find((x) => x.name === "certbot")!;
    expect(m).toMatchObject({ status: "ok", configPath: configDir, certificateCount: 2, problems: [] });
    for (const other of managers.filter((x) => x.name !== "certbot")) expect(other.status).toBe("disabled");

    const rsa = certificates.find((c) => c.name === "multi.example.test")!;
    const ec = certificates.find((c) => c.name === "ec.example.test")!;
    expect(rsa.domains.toSorted()).toEqual(["api.multi.example.test", "multi.example.test", "www.multi.example.test"]);
    expect(ec.domains).toEqual(["ec.example.test"]);
    for (const [c, lineage] of [[rsa, "multi.example.test"], [ec, "ec.example.test"]] as const) {
      const live = join(configDir, "live", lineage, "cert.pem");
      const facts = opensslFacts(live);
      expect(c.source).toBe("certbot");
      expect(c.id).toBe(`certbot:${lineage}`);
      expect(c.status).toBe("valid");
      expect(c.serial).toBe(facts.serial);
      expect(c.notAfter).toBe(facts.notAfter);
      expect(c.notBefore).toBe(facts.notBefore);
      expect(c.issuer).toContain("Pebble Intermediate CA");
      expect(c.identifier).toBe(join(configDir, "renewal", `${lineage}.conf`));
      expect(c.paths).toMatchObject({ cert: live, fullchain: join(configDir, "live", lineage, "fullchain.pem"), key: join(configDir, "live", lineage, "privkey.pem"), config: c.identifier });
      // certbot 2.x (Debian) renews 30 days before expiry unless renew_before_expiry says otherwise
      expect(c.nextRenewalAt).toBe(facts.notAfter - 30 * DAY);
      expect(c.settings?.ca).toBe(pebble.directoryUrl);
      expect(c.settings?.challenge).toBe("http-01");
    }
    expect(rsa.settings?.keyType).toBe("rsa-2048");
    expect(ec.settings?.keyType).toBe("ecdsa-secp256r1");
  });

  test("renew_before_expiry in the conf moves the next renewal", async () => {
    const conf = join(configDir, "renewal", "ec.example.test.conf");
    const text = await Bun.file(conf).text();
    writeFileSync(conf, `renew_before_expiry = 2 weeks\n${text}`);
    try {
      const ec = (await scan()).certificates.find((c) => c.name === "ec.example.test")!;
      expect(ec.nextRenewalAt).toBe(ec.notAfter! - 14 * DAY);
    } finally {
      writeFileSync(conf, text);
    }
  });

  test("certbot renew --force-renewal: the next scan shows the new serial", async () => {
    const before = (await scan()).certificates.find((c) => c.name === "multi.example.test")!;
    certbot(["renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "multi.example.test"]);
    const live = join(configDir, "live", "multi.example.test", "cert.pem");
    expect(readlinkSync(live)).toContain("cert2.pem");
    const after = (await scan()).certificates.find((c) => c.name === "multi.example.test")!;
    expect(after.serial).not.toBe(before.serial);
    expect(after.serial).toBe(opensslFacts(live).serial);
    expect(after.status).toBe("valid");
    expect(after.lastError).toBeNull();
  }, 60_000);

  test("a malformed renewal conf is a problem naming the file; the other certificates are still reported", async () => {
    const bad = join(configDir, "renewal", "broken.example.test.conf");
    writeFileSync(bad, "version = 2.1.0\n[renewalparams\nthis is not ini\n");
    try {
      const { certificates, managers } = await scan();
      expect(certificates.map((c) => c.name).toSorted()).toEqual(["ec.example.test", "multi.example.test"]);
      const m = managers.find((x) => x.name === "certbot")!;
      expect(m.status).toBe("error");
      expect(m.problems).toHaveLength(1);
      expect(m.problems[0]).toContain(bad);
      expect(m.problems[0]).toContain("line 2");
    } finally {
      run(["rm", "-f", bad]);
    }
  });

  test("non-root agent: archive/ and live/ (0700) and the logs are named as unreadable, with what to do", async () => {
    // Let nobody reach the tree the way it reaches /etc/letsencrypt (0755), keep certbot's modes below.
    openUp(base, configDir, join(configDir, "renewal"));
    const result = await scanAsNobody(only("certbot", configDir, logsDir), isolatedEnv("/nonexistent"));
    const m = manager(result, "certbot");
    expect(m.status).toBe("error");
    expect(result.certificates).toHaveLength(0);
    const joined = m.problems.join("\n");
    expect(joined).toContain(`cannot read ${join(configDir, "archive")}: permission denied — run the agent as root`);
    expect(joined).toContain(`cannot read ${join(configDir, "live")}: permission denied`);
    // one sentence per directory, not one per certificate
    expect(m.problems.filter((p) => p.includes("archive"))).toHaveLength(1);
  });

  test("a failed renewal (CA unreachable) is reported as failed with certbot's error; the other stays valid", async () => {
    await pebble.stop();
    const r = Bun.spawnSync(
      [certbotBin, "renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "ec.example.test", "--non-interactive", "--config-dir", configDir, "--work-dir", join(base, "work"), "--logs-dir", logsDir],
      { env: { ...process.env, REQUESTS_CA_BUNDLE: pebble.caFile }, stdout: "pipe", stderr: "pipe" },
    );
    expect(r.exitCode).not.toBe(0);
    const { certificates } = await scan();
    const ec = certificates.find((c) => c.name === "ec.example.test")!;
    const rsa = certificates.find((c) => c.name === "multi.example.test")!;
    expect(ec.status).toBe("failed");
    expect(ec.lastError).toMatch(/connect|Connection|refused|Max retries/i);
    expect(rsa.status).toBe("valid");
    expect(rsa.lastError).toBeNull();
  }, 60_000);
});
