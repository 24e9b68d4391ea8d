// HTTPS by default: a self-signed certificate created in the data dir on first start,
// or the files given with --tls-cert/--tls-key.
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
// The bundler may hoist a static x509 import above the polyfill, so x509 is loaded lazily
// (also keeps it off the start-up path once the certificate exists).
import "reflect-metadata";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { restrictMode } from "../lib/private-files";

export interface TlsMaterial {
  cert: string;
  key: string;
  fingerprint: string; // "sha256:<hex>" of the DER certificate, for agents to pin
  created: boolean;
}

/** "sha256:ab12…" over the DER bytes of the first certificate in a PEM. */
export function certificateFingerprint(pem: string): string {
  const hex = new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();
  return `sha256:${hex}`;
}

export async function loadOrCreateTls(dataDir: string, certFile?: string, keyFile?: string): Promise<TlsMaterial> {
  if (certFile && keyFile) {
    const cert = readPem(certFile, "--tls-cert");
    const key = readPem(keyFile, "--tls-key");
    let fingerprint: string;
    try {
      fingerprint = certificateFingerprint(cert);
    } catch {
      throw new Error(`--tls-cert ${certFile} is not a PEM certificate`);
    }
    return { cert, key, fingerprint, created: false };
  }
  const certPath = path.join(dataDir, "hub-tls.crt");
  const keyPath = path.join(dataDir, "hub-tls.key");
  if (existsSync(certPath) && existsSync(keyPath)) {
    restrictMode(keyPath, 0o600); // a key left world-readable (copied in, older version)
    const cert = readFileSync(certPath, "utf8");
    return { cert, key: readFileSync(keyPath, "utf8"), fingerprint: certificateFingerprint(cert), created: false };
  }
  const { cert, key } = await createSelfSigned([os.hostname(), "localhost"], ["127.0.0.1", "::1"]);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, key, { mode: 0o600 });
  chmodSync(keyPath, 0o600); // `mode` is ignored when the file already existed
  writeFileSync(certPath, cert, { mode: 0o644 });
  return { cert, key, fingerprint: certificateFingerprint(cert), created: true };
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

export async function createSelfSigned(dnsNames: string[], ips: string[]) {
  const x509 = await import("@peculiar/x509");
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=certhub hub ${dnsNames[0]}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 825 * 86400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...[...new Set(dnsNames)].map((value) => ({ type: "dns" as const, value })),
        ...ips.map((value) => ({ type: "ip" as const, value })),
      ]),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END PRIVATE KEY-----\n`;
  return { cert: certificate.toString("pem"), key };
}
