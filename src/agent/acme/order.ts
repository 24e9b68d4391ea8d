// One issuance (RFC 8555 §7.4): newOrder (with ARI `replaces` and a profile), authorizations and
// their challenges (already-valid ones reused), finalize with a fresh or reused key, download
// of the chain (or a preferred alternate). Reports each step with its duration.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { z } from "zod";
import type { Challenge, KeyType } from "../../protocol/certificates";
import { DomainSchema } from "../../protocol/certificates";
import type { AccountKey } from "./account";
import { ariCertId } from "./ari";
import { b64url, pemBlocks } from "./b64";
import { AcmeClient, problemFromObject, type Signer } from "./client";
import { alternateLinks, chainMatches, leafInfo } from "./chains";
import { isWildcard, solverFor, type Presented, type SolverContext } from "./challenges/index";
import { importAccountKey, thumbprint } from "./jws";
import { createCsr, generateCertKey, importCertKey, type CertKey } from "./keys";
import { AcmeProblem } from "./problem";

export interface StepReport {
  name: "preflight" | "account" | "order" | "challenge" | "finalize" | "download";
  outcome: "ok" | "failed" | "skipped";
  ms: number;
  domain?: string;
  message?: string;
}

export interface IssuedCertificate {
  keyPem: string; certPem: string; chainPem: string; fullchainPem: string;
  serial: string; notBefore: number; notAfter: number; issuer: string; ariCertId: string | null;
}

export interface IssueOptions {
  directoryUrl: string;
  trustedRootsPem?: string;
  account: AccountKey;
  domains: string[];
  keyType: KeyType;
  challenge: Challenge;
  ctx: SolverContext;
  replaces?: string;
  profile?: string;
  preferredChain?: string;
  onStep?: (s: StepReport) => void;
  signal?: AbortSignal;
  keyPem?: string;
}

const url = z.string().url().max(2048);
const OrderSchema = z.object({
  status: z.enum(["pending", "ready", "processing", "valid", "invalid"]),
  authorizations: z.array(url).max(100),
  finalize: url,
  certificate: url.optional(),
  error: z.unknown().optional(),
}).passthrough();
type Order = z.infer<typeof OrderSchema>;
const ChallengeObjSchema = z.object({ type: z.string(), url, status: z.string(), token: z.string().optional(), error: z.unknown().optional() }).passthrough();
const AuthzSchema = z.object({
  status: z.enum(["pending", "valid", "invalid", "deactivated", "expired", "revoked"]),
  identifier: z.object({ type: z.string(), value: z.string().max(253) }),
  challenges: z.array(ChallengeObjSchema).max(20),
  wildcard: z.boolean().optional(),
}).passthrough();
type Authz = z.infer<typeof AuthzSchema>;

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new Error(`ACME server sent a malformed ${what}`);
  return r.data;
}

/** Runs one step, reporting ok/failed with its duration; rethrows failures. */
async function step<T>(onStep: ((s: StepReport) => void) | undefined, name: StepReport["name"], fn: () => Promise<T>, domain?: string, okMessage?: (v: T) => string | undefined): Promise<T> {
  const t0 = performance.now();
  try {
    const v = await fn();
    onStep?.({ name, outcome: "ok", ms: Math.round(performance.now() - t0), ...(domain ? { domain } : {}), ...(okMessage?.(v) ? { message: okMessage(v) } : {}) });
    return v;
  } catch (err) {
    onStep?.({ name, outcome: "failed", ms: Math.round(performance.now() - t0), ...(domain ? { domain } : {}), message: String((err as Error).message ?? err).slice(0, 2000) });
    throw err;
  }
}

export function checkDomains(domains: string[], challenge: Challenge): string[] {
  if (domains.length === 0) throw new Error("no domains to order");
  const out = domains.map((d) => {
    const r = DomainSchema.safeParse(d);
    if (!r.success) throw new Error(`invalid domain name: ${d}`);
    return r.data;
  });
  if (challenge.type === "http-01") {
    const wild = out.filter(isWildcard);
    if (wild.length) throw new Error(`wildcard names need the DNS-01 challenge, not HTTP-01: ${wild.join(", ")}`);
  }
  return [...new Set(out)];
}

export async function issueCertificate(o: IssueOptions, client = new AcmeClient(o)): Promise<IssuedCertificate> {
  const domains = checkDomains(o.domains, o.challenge);
  const signer: Signer = { key: await importAccountKey(o.account.keyJwk), kid: o.account.accountUrl };
  const dir = await client.directory();

  if (o.profile) {
    const offered = dir.meta?.profiles ? Object.keys(dir.meta.profiles) : null;
    if (!offered) throw new Error(`this CA offers no certificate profiles, but profile "${o.profile}" was requested`);
    if (!offered.includes(o.profile)) throw new Error(`this CA has no profile "${o.profile}" (it offers: ${offered.join(", ")})`);
  }

  let orderUrl = "";
  let orderNote: string | undefined;
  let order = await step(o.onStep, "order", async () => {
    const payload: Record<string, unknown> = { identifiers: domains.map((value) => ({ type: "dns", value })) };
    if (o.replaces && dir.renewalInfo) payload.replaces = o.replaces;
    if (o.profile) payload.profile = o.profile;
    let answer;
    try {
      answer = await client.postJson(dir.newOrder, payload, signer);
    } catch (err) {
      // `replaces` only earns ARI's rate-limit exemption. If an earlier attempt (say, one cut short
      // by a restart) already claimed it, the CA refuses it again; renew anyway, without it.
      if (!(payload.replaces && err instanceof AcmeProblem && err.is("alreadyReplaced"))) throw err;
      delete payload.replaces;
      orderNote = `ordered without "replaces": ${err.message}`;
      answer = await client.postJson(dir.newOrder, payload, signer);
    }
    orderUrl = answer.res.headers.get("location") ?? "";
    if (!orderUrl) throw new Error("ACME server created the order but sent no Location");
    return parse(OrderSchema, answer.body, "order");
  }, undefined, () => orderNote);

  await solveAuthorizations(client, signer, order, o);

  let certKey: CertKey | null = null;
  order = await step(o.onStep, "finalize", async () => {
    const ready = parse(OrderSchema, await client.poll<Order>(orderUrl, signer, (b) => b.status !== "pending", "the order to become ready", 60_000), "order");
    if (ready.status === "invalid") throw problemFromObject(ready.error, "the order became invalid");
    const key = o.keyPem ? await importCertKey(o.keyPem, o.keyType) : await generateCertKey(o.keyType);
    certKey = key;
    let done = ready;
    if (ready.status === "ready") done = parse(OrderSchema, (await client.postJson(ready.finalize, { csr: b64url(await createCsr(domains, key)) }, signer)).body, "order");
    if (done.status !== "valid" && done.status !== "invalid")
      done = parse(OrderSchema, await client.poll<Order>(orderUrl, signer, (b) => b.status === "valid" || b.status === "invalid", "the certificate to be issued"), "order");
    if (done.status === "invalid" || !done.certificate) throw problemFromObject(done.error, "the order became invalid at finalize");
    return done;
  });

  const fullchainPem = await step(o.onStep, "download", () => downloadChain(client, signer, order.certificate!, o.preferredChain), undefined, () => undefined);
  const certs = pemBlocks(fullchainPem);
  if (certs.length === 0) throw new Error("ACME server sent no certificate");
  // A CA may hand back an order an interrupted attempt already finalized with another key:
  // never return a certificate whose key we do not hold.
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", certKey!.publicKey));
  const leafSpki = new Uint8Array(new x509.X509Certificate(certs[0]).publicKey.rawData);
  if (Buffer.compare(Buffer.from(spki), Buffer.from(leafSpki)) !== 0)
    throw new Error("the CA returned a certificate for a different key (an order finalized by an earlier, interrupted attempt); order again");
  const info = leafInfo(certs[0]);
  let certId: string | null = null;
  try { certId = ariCertId(certs[0]); } catch { certId = null; }
  return {
    keyPem: certKey!.keyPem, certPem: certs[0], chainPem: certs.slice(1).join(""), fullchainPem: certs.join(""),
    serial: info.serial, notBefore: info.notBefore, notAfter: info.notAfter, issuer: info.issuer, ariCertId: certId,
  };
}

async function solveAuthorizations(client: AcmeClient, signer: Signer, order: Order, o: IssueOptions): Promise<void> {
  const solver = solverFor(o.challenge, o.ctx);
  const thumb = await thumbprint(o.account.keyJwk);
  const authzs = await Promise.all(order.authorizations.map(async (u) => ({ url: u, body: parse(AuthzSchema, (await client.postJson(u, null, signer)).body, "authorization") })));
  const presented: Presented[] = [];
  const label = (a: Authz) => (a.wildcard ? `*.${a.identifier.value}` : a.identifier.value);
  try {
    // Put every proof in place first, then wait for DNS once, then ask the CA to validate all.
    const pending: Array<{ url: string; authz: Authz; chUrl: string; t0: number }> = [];
    for (const { url: authzUrl, body: authz } of authzs) {
      if (authz.status === "valid") {
        o.onStep?.({ name: "challenge", outcome: "skipped", ms: 0, domain: label(authz), message: "already authorized (reused)" });
        continue;
      }
      const t0 = performance.now();
      try {
        if (authz.status !== "pending") throw new Error(`authorization for ${label(authz)} is ${authz.status}`);
        const ch = authz.challenges.find((c) => c.type === solver.type);
        if (!ch || !ch.token) throw new Error(`the CA offers no ${solver.type} challenge for ${label(authz)} (offered: ${authz.challenges.map((c) => c.type).join(", ") || "none"})`);
        presented.push(await solver.present({ domain: authz.identifier.value, token: ch.token, keyAuthorization: `${ch.token}.${thumb}` }, o.signal));
        pending.push({ url: authzUrl, authz, chUrl: ch.url, t0 });
      } catch (err) {
        o.onStep?.({ name: "challenge", outcome: "failed", ms: Math.round(performance.now() - t0), domain: label(authz), message: (err as Error).message });
        throw err;
      }
    }
    await Promise.all(presented.map((p) => p.waitReady(o.signal)));
    const results = await Promise.allSettled(pending.map(async (p) => {
      try {
        await client.postJson(p.chUrl, {}, signer);
        const final = parse(AuthzSchema, await client.poll<Authz>(p.url, signer, (b) => b.status !== "pending", `validation of ${label(p.authz)}`), "authorization");
        if (final.status !== "valid") {
          const failed = final.challenges.find((c) => c.url === p.chUrl);
          throw problemFromObject(failed?.error, `validation of ${label(p.authz)} failed (${final.status})`);
        }
        o.onStep?.({ name: "challenge", outcome: "ok", ms: Math.round(performance.now() - p.t0), domain: label(p.authz) });
      } catch (err) {
        o.onStep?.({ name: "challenge", outcome: "failed", ms: Math.round(performance.now() - p.t0), domain: label(p.authz), message: (err as Error).message });
        throw err;
      }
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  } finally {
    await Promise.all(presented.map((p) => p.cleanup().catch(() => {})));
  }
}

async function downloadChain(client: AcmeClient, signer: Signer, certUrl: string, preferred?: string): Promise<string> {
  const res = await client.post(certUrl, null, signer, "application/pem-certificate-chain");
  const first = await res.text();
  if (!preferred || chainMatches(first, preferred)) return first;
  for (const alt of alternateLinks(res.headers, certUrl)) {
    const r = await client.post(alt, null, signer, "application/pem-certificate-chain");
    const pem = await r.text();
    if (chainMatches(pem, preferred)) return pem;
  }
  return first; // like certbot: the preferred chain is a wish, the default chain still works
}

export { AcmeProblem };
