// PKCS#12 output checked by real consumers: OpenSSL (`pkcs12 -info`, `-legacy`, decryption with
// the password) and Java's keytool (alias, PrivateKeyEntry, chain). Modern must be PBES2 +
// AES-256-CBC + PBKDF2-HMAC-SHA256 with a SHA-256 MAC; legacy must be 3DES for key and
// certificates with a SHA-1 MAC (what Windows Server 2016 and the macOS keychain accept).
import { describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDeployments } from "../../../src/agent/deploy";
import { buildPfx } from "../../../src/agent/deploy/pkcs12";
import { tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";

const PASSWORD = "correct horse ✓ battery"; // non-ASCII on purpose (OpenSSL: UTF-8 for PBES2, BMP for the MAC)
const ASCII_PASSWORD = "tomcat-changeit-42"; // keytool decodes non-ASCII -storepass differently

const ca = makeCa();
const ec = issue(ca, { serialHex: "8123456789abcdef", domains: ["ec.example.test", "www.ec.example.test"], key: "ec" });
const rsa = issue(ca, { serialHex: "2a", domains: ["rsa.example.test"], key: "rsa" });

function opensslPkcs12(file: string, password: string, extra: string[] = []) {
  const r = Bun.spawnSync(["openssl", "pkcs12", "-in", file, "-passin", `pass:${password}`, "-info", "-nodes", ...extra], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function writePfx(cert: typeof ec, encoding: "modern" | "legacy", password = PASSWORD, friendlyName = "my-site"): string {
  const file = join(tempDir("certhub-pfx-"), `${encoding}.p12`);
  writeFileSync(file, buildPfx({ keyPem: cert.keyPem, certPem: cert.certPem, chainPem: cert.chainPem, password, encoding, friendlyName }));
  return file;
}

/** The public key (SPKI DER, base64) of the first private key in OpenSSL's -nodes output. */
function publicKeyOfDumpedKey(out: string): string {
  const keyPem = out.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)?.[0];
  expect(keyPem).toBeDefined();
  return createPublicKey(createPrivateKey(keyPem!)).export({ type: "spki", format: "der" }).toString("base64");
}
const certPublicKey = (pem: string) => new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" }).toString("base64");

describe("PKCS#12 read by openssl", () => {
  for (const [label, cert] of [["EC P-256", ec], ["RSA 2048", rsa]] as const) {
    test(`modern (${label}): PBES2/AES-256-CBC/PBKDF2-SHA256, SHA-256 MAC; key, leaf and chain decrypt with the password`, async () => {
      const file = writePfx(cert, "modern");
      const r = opensslPkcs12(file, PASSWORD);
      expect(r.code).toBe(0);
      const all = r.out + r.err;
      expect(all).toContain("MAC: sha256");
      expect(all).toContain("PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC");
      expect(all).toContain("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC");
      expect(all).toContain("PRF hmacWithSHA256");
      expect(all).not.toContain("3DES");
      expect(all).toContain("friendlyName: my-site");
      // leaf + chain, and the decrypted key belongs to the leaf
      expect(r.out.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(2);
      expect(r.out).toContain(`subject=CN = ${cert.domains[0]}`);
      expect(r.out).toContain("subject=CN = certhub test CA");
      expect(publicKeyOfDumpedKey(r.out)).toBe(certPublicKey(cert.certPem));
    });

    test(`legacy (${label}): pbeWithSHA1And3-KeyTripleDES-CBC for key and certificates, SHA-1 MAC; opens with -legacy`, async () => {
      const file = writePfx(cert, "legacy");
      const r = opensslPkcs12(file, PASSWORD);
      expect(r.code).toBe(0);
      const all = r.out + r.err;
      expect(all).toContain("MAC: sha1");
      expect(all).toContain("PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC");
      expect(all).toContain("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC");
      expect(all).not.toContain("AES-256");
      expect(publicKeyOfDumpedKey(r.out)).toBe(certPublicKey(cert.certPem));
      const legacy = opensslPkcs12(file, PASSWORD, ["-legacy"]);
      expect(legacy.code).toBe(0);
      expect(legacy.out.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(2);
    });
  }

  test("a wrong password is refused by the MAC check (both encodings)", async () => {
    for (const enc of ["modern", "legacy"] as const) {
      const file = writePfx(ec, enc);
      const r = opensslPkcs12(file, "not the password");
      expect(r.code).not.toBe(0);
      expect(r.err).toContain("Mac verify error");
    }
  });

  test("a key that does not belong to the certificate is refused before anything is written", () => {
    expect(() => buildPfx({ keyPem: rsa.keyPem, certPem: ec.certPem, chainPem: ec.chainPem, password: "x", encoding: "modern" })).toThrow(/does not match/);
  });
});

describe("PKCS#12 as a Java keystore (keytool)", () => {
  test("keytool is installed (openjdk-17-jre-headless)", () => {
    if (!Bun.which("keytool")) throw new Error("keytool NOT FOUND: the Java keystore checks below cannot run; apt-get install -y openjdk-17-jre-headless");
  });

  for (const enc of ["modern", "legacy"] as const) {
    for (const [label, cert] of [["EC", ec], ["RSA", rsa]] as const) {
      test(`${enc} ${label}: keytool lists a PrivateKeyEntry under the friendly name as alias, chain of 2, the leaf's serial`, () => {
        const file = writePfx(cert, enc, ASCII_PASSWORD, "tomcat");
          const r = Bun.spawnSync(["keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", file, "-storepass", ASCII_PASSWORD], { stdout: "pipe", stderr: "pipe" });
        const out = r.stdout.toString() + r.stderr.toString();
        expect(r.exitCode).toBe(0);
        expect(out).toContain("Alias name: tomcat");
        expect(out).toContain("Entry type: PrivateKeyEntry");
        expect(out).toContain("Certificate chain length: 2");
        expect(out).toContain(`Serial number: ${cert.serial}`);
        const wrong = Bun.spawnSync(["keytool", "-list", "-storetype", "PKCS12", "-keystore", file, "-storepass", "wrong-password"], { stdout: "pipe", stderr: "pipe" });
        expect(wrong.exitCode).not.toBe(0);
      }, 30_000);
    }
  }
});

describe("pfx task", () => {
  test("writes the file 0600 with the stored credential's password and the certificate name as friendly name", async () => {
    const dir = tempDir("certhub-pfx-task-");
    const path = join(dir, "site.pfx");
    const ctx = context({ credentials: new Map([["pw1", { id: "pw1", type: "password", secret: { password: PASSWORD } }]]) });
    const [r] = await runDeployments([{ type: "pfx", path, passwordCredentialId: "pw1", encoding: "legacy", trigger: "success" }], ec, "success", ctx);
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(r.lastResult.message).toContain("legacy");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const o = opensslPkcs12(path, PASSWORD);
    expect(o.code).toBe(0);
    expect(o.out + o.err).toContain(`friendlyName: ${ec.name}`);
    expect(o.out + o.err).toContain("pbeWithSHA1And3-KeyTripleDES-CBC");
    // the password is never in the result or the log
    expect(JSON.stringify(r) + ctx.lines.join("\n")).not.toContain(PASSWORD);
  });

  test("a missing credential fails the task with a clear message and writes nothing", async () => {
    const path = join(tempDir("certhub-pfx-task-"), "site.pfx");
    const [r] = await runDeployments([{ type: "pfx", path, passwordCredentialId: "gone", encoding: "modern", trigger: "success" }], ec, "success", context());
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("stored credential gone");
    expect(existsSync(path)).toBe(false);
  });

  test("an api-token credential's token works as the password; mode and friendly name from the task", async () => {
    const path = join(tempDir("certhub-pfx-task-"), "site.p12");
    const ctx = context({ credentials: new Map([["t", { id: "t", type: "api-token", secret: { token: "tok-123" } }]]) });
    const [r] = await runDeployments([{ type: "pfx", path, passwordCredentialId: "t", encoding: "modern", friendlyName: "iis-site", mode: "0640", trigger: "success" }], rsa, "success", ctx);
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(statSync(path).mode & 0o777).toBe(0o640);
    const o = opensslPkcs12(path, "tok-123");
    expect(o.code).toBe(0);
    expect(o.out + o.err).toContain("friendlyName: iis-site");
    expect(readFileSync(path)[0]).toBe(0x30); // DER, not PEM
  });
});
