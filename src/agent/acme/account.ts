// ACME accounts (RFC 8555 §7.3): find the account of a stored key, or register a new one
// (terms agreed, contact email, External Account Binding when the CA requires it).
import { z } from "zod";
import { AcmeClient } from "./client";
import { eabJws, generateAccountKey, importAccountKey, publicJwk } from "./jws";
import { AcmeProblem } from "./problem";

export interface AccountKey { accountUrl: string; keyJwk: JsonWebKey }

export interface EnsureAccountOptions {
  directoryUrl: string;
  trustedRootsPem?: string;
  email?: string;
  eab?: { keyId: string; hmacKey: string };
  existing?: AccountKey | null;
  signal?: AbortSignal;
}

const AccountBodySchema = z.object({ status: z.string().optional(), contact: z.array(z.string()).optional() }).passthrough();

export async function ensureAccount(opts: EnsureAccountOptions, client = clientFor(opts)): Promise<AccountKey> {
  const dir = await client.directory();
  const email = opts.email?.trim();
  if (email && !/^[^\s@<>]+@[^\s@<>]+$/.test(email)) throw new Error(`invalid contact email: ${email}`);
  const contact = email ? [`mailto:${email}`] : undefined;

  if (opts.existing) {
    const keyJwk = opts.existing.keyJwk;
    const key = await importAccountKey(keyJwk);
    try {
      const { res, body } = await client.postJson(dir.newAccount, { onlyReturnExisting: true }, { key, jwk: publicJwk(keyJwk) });
      const accountUrl = res.headers.get("location") ?? opts.existing.accountUrl;
      const acct = AccountBodySchema.safeParse(body);
      if (acct.success && acct.data.status && acct.data.status !== "valid")
        throw new Error(`ACME account ${accountUrl} is ${acct.data.status}`);
      if (contact && acct.success && JSON.stringify(acct.data.contact ?? []) !== JSON.stringify(contact))
        await client.post(accountUrl, { contact }, { key, kid: accountUrl });
      return { accountUrl, keyJwk };
    } catch (err) {
      // The CA forgot the key (a test CA restarted, or a different directory): register it anew.
      if (!(err instanceof AcmeProblem && err.is("accountDoesNotExist"))) throw err;
    }
    return register(client, dir.newAccount, keyJwk, contact, opts.eab);
  }
  return register(client, dir.newAccount, await generateAccountKey(), contact, opts.eab);
}

async function register(client: AcmeClient, url: string, keyJwk: JsonWebKey, contact: string[] | undefined, eab?: { keyId: string; hmacKey: string }): Promise<AccountKey> {
  const key = await importAccountKey(keyJwk);
  const payload: Record<string, unknown> = { termsOfServiceAgreed: true };
  if (contact) payload.contact = contact;
  if (eab) payload.externalAccountBinding = await eabJws({ keyId: eab.keyId, hmacKey: eab.hmacKey, url, accountJwk: keyJwk });
  const res = await client.post(url, payload, { key, jwk: publicJwk(keyJwk) });
  const accountUrl = res.headers.get("location");
  await res.body?.cancel();
  if (!accountUrl) throw new Error("ACME server registered the account but sent no Location");
  return { accountUrl, keyJwk };
}

export function clientFor(o: { directoryUrl: string; trustedRootsPem?: string; signal?: AbortSignal }): AcmeClient {
  return new AcmeClient({ directoryUrl: o.directoryUrl, trustedRootsPem: o.trustedRootsPem, signal: o.signal });
}
