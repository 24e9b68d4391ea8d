// Certificate keys per KeyType (WebCrypto, exported as PEM PKCS#8) and the CSR for an order.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { KeyType } from "../../protocol/certificates";
import { pemBlocks, toPem } from "./b64";

type Alg = EcKeyGenParams | RsaHashedKeyGenParams;

function algorithmFor(keyType: KeyType): { gen: Alg; sign: Algorithm | EcdsaParams } {
  switch (keyType) {
    case "ecdsa-p256": return { gen: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams };
    case "ecdsa-p384": return { gen: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams };
    case "rsa-2048":
    case "rsa-3072":
    case "rsa-4096": {
      const bits = Number(keyType.slice(4));
      return {
        gen: { name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        sign: { name: "RSASSA-PKCS1-v1_5" },
      };
    }
    default: throw new Error(`unknown key type: ${keyType satisfies never}`);
  }
}

export interface CertKey { keyPem: string; privateKey: CryptoKey; publicKey: CryptoKey; signingAlgorithm: Algorithm | EcdsaParams }

export async function generateCertKey(keyType: KeyType): Promise<CertKey> {
  const { gen, sign } = algorithmFor(keyType);
  const pair = (await crypto.subtle.generateKey(gen, true, ["sign", "verify"])) as CryptoKeyPair;
  const keyPem = toPem(await crypto.subtle.exportKey("pkcs8", pair.privateKey), "PRIVATE KEY");
  return { keyPem, privateKey: pair.privateKey, publicKey: pair.publicKey, signingAlgorithm: sign };
}

/** Reads a PKCS#8 PEM key of the given type (for key reuse on renewal). */
export async function importCertKey(keyPem: string, keyType: KeyType): Promise<CertKey> {
  const block = pemBlocks(keyPem, "PRIVATE KEY")[0];
  if (!block) throw new Error("key is not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)");
  const der = Buffer.from(block.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const { gen, sign } = algorithmFor(keyType);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der, gen, true, ["sign"]);
  } catch {
    throw new Error(`the stored key is not a ${keyType} key`);
  }
  if (gen.name === "RSASSA-PKCS1-v1_5" && (privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength !== (gen as RsaHashedKeyGenParams).modulusLength)
    throw new Error(`the stored key is not a ${keyType} key`);
  // WebCrypto cannot derive a public key directly; the private JWK carries the public members.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const pub = { ...jwk };
  for (const k of ["d", "p", "q", "dp", "dq", "qi"] as const) delete pub[k];
  pub.key_ops = ["verify"];
  const publicKey = await crypto.subtle.importKey("jwk", pub, gen, true, ["verify"]);
  return { keyPem: keyPem.trim() + "\n", privateKey, publicKey, signingAlgorithm: sign };
}

/** PKCS#10 CSR (DER) with every domain as a SAN; CN = first domain when it fits (≤ 64). */
export async function createCsr(domains: string[], key: CertKey): Promise<ArrayBuffer> {
  const cn = domains[0];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: cn && cn.length <= 64 ? [{ CN: [cn] }] : undefined,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: key.signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension(domains.map((d) => ({ type: "dns" as const, value: d })))],
  });
  return csr.rawData;
}
