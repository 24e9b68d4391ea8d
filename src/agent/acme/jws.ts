// JSON Web Signatures for ACME (RFC 8555 §6.2, RFC 7515): the ES256 account key, its thumbprint
// (RFC 7638) for key authorizations, and the HS256 External Account Binding (§7.3.4).
import { b64url, fromB64url } from "./b64";

const ES256 = { name: "ECDSA", namedCurve: "P-256" } as const;

export async function generateAccountKey(): Promise<JsonWebKey> {
  const pair = (await crypto.subtle.generateKey(ES256, true, ["sign", "verify"])) as CryptoKeyPair;
  return crypto.subtle.exportKey("jwk", pair.privateKey);
}

/** The public half of an EC JWK, with exactly the members the thumbprint uses. */
export function publicJwk(jwk: JsonWebKey): JsonWebKey {
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y) throw new Error("account key must be an EC P-256 JWK");
  return { crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y };
}

export async function importAccountKey(jwk: JsonWebKey): Promise<CryptoKey> {
  if (!jwk.d) throw new Error("account key JWK has no private part");
  return crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d }, ES256, false, ["sign"]);
}

/** RFC 7638 thumbprint: SHA-256 over the lexicographically ordered required members. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const p = publicJwk(jwk);
  const canonical = `{"crv":"${p.crv}","kty":"EC","x":"${p.x}","y":"${p.y}"}`;
  return b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
}

export interface FlattenedJws { protected: string; payload: string; signature: string }

/** Signs with the account key; `kid` (account URL) or, before registration, the public `jwk`. */
export async function signJws(
  key: CryptoKey,
  header: { url: string; nonce: string; kid?: string; jwk?: JsonWebKey },
  payload: unknown | null,
): Promise<FlattenedJws> {
  const prot = b64url(JSON.stringify({ alg: "ES256", ...header }));
  // POST-as-GET (RFC 8555 §6.3) signs an empty payload string.
  const body = payload === null ? "" : b64url(JSON.stringify(payload));
  // WebCrypto ECDSA already returns the raw r‖s form JWS wants (not DER).
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(`${prot}.${body}`));
  return { protected: prot, payload: body, signature: b64url(sig) };
}

/** The externalAccountBinding member: the account's public JWK MAC'd with the CA-issued key. */
export async function eabJws(opts: { keyId: string; hmacKey: string; url: string; accountJwk: JsonWebKey }): Promise<FlattenedJws> {
  const raw = fromB64url(opts.hmacKey.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"));
  if (raw.length === 0) throw new Error("EAB HMAC key is empty or not base64url");
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const prot = b64url(JSON.stringify({ alg: "HS256", kid: opts.keyId, url: opts.url }));
  const body = b64url(JSON.stringify(publicJwk(opts.accountJwk)));
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${prot}.${body}`));
  return { protected: prot, payload: body, signature: b64url(sig) };
}
