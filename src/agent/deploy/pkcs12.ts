// PKCS#12 (PFX) encoder: a private key with its certificate and chain in one password-protected
// file, as Windows (IIS, RDP), Java (keytool, Tomcat), macOS Keychain and appliances import it.
//
//   modern: key and certificates encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), SHA-256
//           MAC — what OpenSSL 3 writes by default.
//   legacy: key and certificates encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC, SHA-1 MAC — what
//           Windows Server 2016 and older and the macOS keychain need; they reject modern files
//           with a misleading "wrong password".
//
// Why our own encoder (≈150 lines on node:crypto): pkijs builds only the modern form (no 3DES
// PBE), node-forge cannot read EC keys, and neither is a dependency of certhub; see
// /work/shared/notes/acme-stack.md §2. The output is checked against `openssl pkcs12` and Java's
// keytool in test/agent/deploy/pfx.test.ts. Structure per RFC 7292; KDF per RFC 7292 Appendix B.
import { createCipheriv, createHash, createHmac, createPrivateKey, pbkdf2Sync, randomBytes, X509Certificate } from "node:crypto";
import { bmpString, concat, explicit, implicitPrimitive, integer, nullValue, octetString, oid, sequence, set, utf16be, type Der } from "./der";

export type PfxEncoding = "modern" | "legacy";

export interface PfxInput {
  keyPem: string;
  certPem: string;
  /** Intermediate certificates (PEM, any number of blocks, may be empty). */
  chainPem: string;
  password: string;
  encoding: PfxEncoding;
  /** Shown by Windows and used as the alias by Java keytool. */
  friendlyName?: string;
  /** PBKDF2 / PKCS#12 KDF iterations; OpenSSL's default is 2048. */
  iterations?: number;
}

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.2", // pkcs8ShroudedKeyBag
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  pbeSha1TripleDes: "1.2.840.113549.1.12.1.3",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
};

const DEFAULT_ITERATIONS = 2048;

/** DER bytes of a PKCS#12 file. Throws when the key does not belong to the certificate. */
export function buildPfx(input: PfxInput): Uint8Array {
  const iterations = input.iterations ?? DEFAULT_ITERATIONS;
  const leaf = pemBlocks(input.certPem, "CERTIFICATE")[0];
  if (!leaf) throw new Error("no certificate in certPem");
  const chain = pemBlocks(input.chainPem, "CERTIFICATE");
  const key = createPrivateKey(input.keyPem);
  if (!new X509Certificate(leaf).checkPrivateKey(key)) throw new Error("the private key does not match the certificate");
  const pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));

  const attrs = bagAttributes(input.friendlyName, createHash("sha1").update(leaf).digest());
  const certBags = [certBag(leaf, attrs), ...chain.map((c) => certBag(c, null))];
  const encrypt = input.encoding === "legacy" ? legacyEncrypt : modernEncrypt;

  // AuthenticatedSafe: the certificates in an encryptedData, the (already encrypted) key bag in a data.
  const certsEncrypted = encrypt(sequence(...certBags), input.password, iterations);
  const keyBag = sequence(oid(OID.keyBag), explicit(0, encryptedPrivateKeyInfo(pkcs8, input, iterations)), attrs);
  const authSafe = sequence(
    sequence(oid(OID.encryptedData), explicit(0, sequence(integer(0), sequence(oid(OID.data), certsEncrypted.algorithm, implicitPrimitive(0, certsEncrypted.ciphertext))))),
    sequence(oid(OID.data), explicit(0, octetString(sequence(keyBag)))),
  );
  return sequence(integer(3), sequence(oid(OID.data), explicit(0, octetString(authSafe))), macData(authSafe, input, iterations));
}

function certBag(der: Uint8Array, attrs: Der | null): Der {
  const value = sequence(oid(OID.x509Certificate), explicit(0, octetString(der)));
  return attrs ? sequence(oid(OID.certBag), explicit(0, value), attrs) : sequence(oid(OID.certBag), explicit(0, value));
}

/** friendlyName + localKeyId (SHA-1 of the certificate, as OpenSSL sets it) pair key and certificate. */
function bagAttributes(friendlyName: string | undefined, localKeyId: Uint8Array): Der {
  const items = [sequence(oid(OID.localKeyId), set(octetString(localKeyId)))];
  if (friendlyName) items.push(sequence(oid(OID.friendlyName), set(bmpString(friendlyName))));
  return set(...items);
}

function encryptedPrivateKeyInfo(pkcs8: Uint8Array, input: PfxInput, iterations: number): Der {
  const enc = (input.encoding === "legacy" ? legacyEncrypt : modernEncrypt)(pkcs8, input.password, iterations);
  return sequence(enc.algorithm, octetString(enc.ciphertext));
}

interface Encrypted {
  algorithm: Der;
  ciphertext: Uint8Array;
}

/** PBES2: PBKDF2-HMAC-SHA256 (password as UTF-8, as OpenSSL does) + AES-256-CBC. */
function modernEncrypt(plain: Uint8Array, password: string, iterations: number): Encrypted {
  const salt = randomBytes(8);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const ciphertext = concat([cipher.update(plain), cipher.final()]);
  const kdf = sequence(oid(OID.pbkdf2), sequence(octetString(salt), integer(iterations), sequence(oid(OID.hmacWithSha256), nullValue())));
  const scheme = sequence(oid(OID.aes256Cbc), octetString(iv));
  return { algorithm: sequence(oid(OID.pbes2), sequence(kdf, scheme)), ciphertext };
}

/** pbeWithSHAAnd3-KeyTripleDES-CBC: key and IV from the PKCS#12 KDF with SHA-1. */
function legacyEncrypt(plain: Uint8Array, password: string, iterations: number): Encrypted {
  const salt = randomBytes(8);
  const pw = bmpPassword(password);
  const key = pkcs12Kdf("sha1", pw, salt, 1, iterations, 24);
  const iv = pkcs12Kdf("sha1", pw, salt, 2, iterations, 8);
  const cipher = createCipheriv("des-ede3-cbc", key, iv);
  const ciphertext = concat([cipher.update(plain), cipher.final()]);
  return { algorithm: sequence(oid(OID.pbeSha1TripleDes), sequence(octetString(salt), integer(iterations))), ciphertext };
}

/** HMAC over the AuthenticatedSafe; key from the PKCS#12 KDF (ID 3) with the MAC's own hash. */
function macData(authSafe: Uint8Array, input: PfxInput, iterations: number): Der {
  const hash = input.encoding === "legacy" ? "sha1" : "sha256";
  const size = hash === "sha1" ? 20 : 32;
  const salt = randomBytes(8);
  const key = pkcs12Kdf(hash, bmpPassword(input.password), salt, 3, iterations, size);
  const mac = createHmac(hash, key).update(authSafe).digest();
  const digestInfo = sequence(sequence(oid(hash === "sha1" ? OID.sha1 : OID.sha256), nullValue()), octetString(mac));
  return sequence(digestInfo, octetString(salt), integer(iterations));
}

/** RFC 7292 B.1: the password as a NUL-terminated big-endian BMPString. */
function bmpPassword(password: string): Uint8Array {
  return concat([utf16be(password), Uint8Array.of(0, 0)]);
}

/** RFC 7292 Appendix B.2 key derivation. id: 1 = key, 2 = IV, 3 = MAC key. */
export function pkcs12Kdf(hash: "sha1" | "sha256", password: Uint8Array, salt: Uint8Array, id: 1 | 2 | 3, iterations: number, n: number): Uint8Array {
  const u = hash === "sha1" ? 20 : 32;
  const v = 64; // block size of SHA-1 and SHA-256
  const fill = (src: Uint8Array) => {
    const len = v * Math.ceil(src.length / v);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length];
    return out;
  };
  const D = new Uint8Array(v).fill(id);
  const I = concat([salt.length ? fill(salt) : new Uint8Array(0), password.length ? fill(password) : new Uint8Array(0)]);
  const out = new Uint8Array(n);
  for (let block = 0, written = 0; written < n; block++) {
    let A: Uint8Array = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    out.set(A.subarray(0, Math.min(u, n - written)), written);
    written += u;
    if (written >= n) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I, B = A repeated to v bytes.
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return out;
}

/** DER bodies of the PEM blocks of `type` in `pem`, in order. */
export function pemBlocks(pem: string, type: string): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${type}-----([A-Za-z0-9+/=\\s]+?)-----END ${type}-----`, "g");
  return [...pem.matchAll(re)].map((m) => new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ""), "base64")));
}
