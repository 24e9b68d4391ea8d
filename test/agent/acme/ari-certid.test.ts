// ARI certID (RFC 9773 §4.1) from certificates made by openssl: the serial keeps its leading
// 0x00 when the top bit is set (the trap @peculiar/x509's serialNumber falls into).
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { ariCertId } from "../../../src/agent/acme";
import { tempDir } from "../../helpers";

function openssl(dir: string, args: string[]): string {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
}

/** A CA-signed leaf with the given serial; returns its PEM and the CA's subject key id (hex). */
function leafWithSerial(serial: string, caSki?: string): { pem: string; akiHex: string } {
  const dir = tempDir("certhub-ari-");
  const skiArgs = caSki ? ["-addext", `subjectKeyIdentifier=${caSki}`] : [];
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ari test ca", ...skiArgs]);
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=leaf.example.test"]);
  writeFileSync(join(dir, "ext"), "authorityKeyIdentifier=keyid\nsubjectAltName=DNS:leaf.example.test\n");
  openssl(dir, ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial, "-out", "leaf.pem", "-days", "2", "-extfile", "ext"]);
  const ski = openssl(dir, ["x509", "-in", "ca.pem", "-noout", "-ext", "subjectKeyIdentifier"]).split("\n")[1].trim().replace(/:/g, "").toLowerCase();
  return { pem: readFileSync(join(dir, "leaf.pem"), "utf8"), akiHex: ski };
}

const b64u = (hex: string) => Buffer.from(hex, "hex").toString("base64url");

describe("ariCertId", () => {
  test("a serial with the top bit set keeps its leading 0x00 (DER INTEGER content)", () => {
    const { pem, akiHex } = leafWithSerial("0x8123456789abcdef");
    const id = ariCertId(pem);
    expect(id).toBe(`${b64u(akiHex)}.${b64u("008123456789abcdef")}`);
    // The shortcut through @peculiar/x509 would have produced a different (wrong) identifier.
    const naive = new x509.X509Certificate(pem).serialNumber.toLowerCase();
    expect(naive).toBe("8123456789abcdef");
    expect(id.split(".")[1]).not.toBe(b64u(naive));
  });

  test("a serial without the top bit is encoded as is", () => {
    const { pem, akiHex } = leafWithSerial("0x7f00ff");
    expect(ariCertId(pem)).toBe(`${b64u(akiHex)}.${b64u("7f00ff")}`);
  });

  test("RFC 9773 §4.1 example: keyIdentifier 69:88:5B:… and serial 00:87:65:43:21 give aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", () => {
    const { pem } = leafWithSerial("0x87654321", "69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4");
    expect(ariCertId(pem)).toBe("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  });
});
