// Preflight "Test": what can be checked without the CA, per domain. HTTP-01: our listener (or
// the webroot's web server) answers a test token through each address the name resolves to.
// DNS-01: a test TXT update succeeds and the record becomes visible, then is removed.
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Challenge } from "../../protocol/certificates";
import { b64url } from "./b64";
import { resolverFor, serverAddress } from "./challenges/dns";
import { isWildcard, solverFor, type SolverContext } from "./challenges/index";
import { serveToken } from "./challenges/http01-standalone";
import { writeToken } from "./challenges/http01-webroot";
import { tsigKeyFrom } from "./challenges/dns01-rfc2136";
import type { StepReport } from "./order";

export interface PreflightOptions {
  domains: string[];
  challenge: Challenge;
  ctx: SolverContext;
  signal?: AbortSignal;
  /** Port the HTTP-01 check connects to for a webroot (default 80; a standalone listener uses its own). */
  httpPort?: number;
}

const CHECK_TIMEOUT_MS = 5_000;

/**
 * What this host cannot check: the name does not resolve here. Split-horizon DNS (an internal
 * resolver without the public zone) and test CAs with their own DNS are common, and the CA
 * resolves through its own servers, so this is reported as "skipped", not a failure that would
 * hold back the first order.
 */
class NotCheckable extends Error {}

async function timed(domain: string, fn: () => Promise<string | undefined>): Promise<StepReport> {
  const t0 = performance.now();
  try {
    const message = await fn();
    return { name: "preflight", outcome: "ok", ms: Math.round(performance.now() - t0), domain, ...(message ? { message } : {}) };
  } catch (err) {
    const outcome = err instanceof NotCheckable ? "skipped" : "failed";
    return { name: "preflight", outcome, ms: Math.round(performance.now() - t0), domain, message: String((err as Error).message ?? err).slice(0, 2000) };
  }
}

/** A and AAAA of `domain`, through the context's DNS server when set, else the system's. */
export async function addressesOf(domain: string, ctx: SolverContext): Promise<string[]> {
  if (!ctx.dnsResolver) return (await lookup(domain, { all: true }).catch(() => [])).map((a) => a.address);
  const r = resolverFor(await serverAddress(ctx.dnsResolver));
  const [v4, v6] = await Promise.all([r.resolve4(domain).catch((): string[] => []), r.resolve6(domain).catch((): string[] => [])]);
  return [...v6, ...v4];
}

async function checkHttp(domain: string, port: number, token: string, expected: string, ctx: SolverContext, signal?: AbortSignal): Promise<string> {
  const addrs = await addressesOf(domain, ctx);
  if (addrs.length === 0) throw new NotCheckable(`not checked: ${domain} does not resolve to any address from this host (the CA resolves it through its own DNS)`);
  const problems: string[] = [];
  for (const addr of addrs) {
    const host = isIP(addr) === 6 ? `[${addr}]` : addr;
    const timeout = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    try {
      const res = await fetch(`http://${host}:${port}/.well-known/acme-challenge/${token}`, {
        headers: { host: domain },
        redirect: "follow",
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const body = (await res.text()).trim();
      if (res.status !== 200) problems.push(`${addr}:${port} answered HTTP ${res.status}`);
      else if (body !== expected) problems.push(`${addr}:${port} answered with something else than the token`);
    } catch (err) {
      problems.push(`${addr}:${port} unreachable (${(err as { code?: string }).code ?? (err as Error).message})`);
    }
  }
  if (problems.length) throw new Error(`HTTP-01 check for ${domain} failed: ${problems.join("; ")}`);
  return `answered on ${addrs.join(", ")} port ${port}`;
}

export async function preflight(o: PreflightOptions): Promise<StepReport[]> {
  const ch = o.challenge;
  const token = b64url(randomBytes(24));
  const keyAuth = `${token}.certhub-preflight`;

  if (ch.type === "http-01") {
    const webroot = "webroot" in ch ? ch.webroot : undefined;
    const port = webroot ? o.httpPort ?? 80 : (ch as { port?: number }).port ?? 80;
    let release: (() => Promise<void>) | null = null;
    const setup = async () => {
      release = webroot ? await writeToken(webroot, token, keyAuth) : serveToken((ch as { address?: string }).address ?? "::", port, token, keyAuth);
    };
    let setupError: Error | null = null;
    await setup().catch((err: Error) => { setupError = err; });
    try {
      return await Promise.all(o.domains.map((d) => timed(d, async () => {
        if (isWildcard(d)) throw new Error(`wildcard names need the DNS-01 challenge, not HTTP-01: ${d}`);
        if (setupError) throw setupError;
        return checkHttp(d, port, token, keyAuth, o.ctx, o.signal);
      })));
    } finally {
      if (release) await (release as () => Promise<void>)();
    }
  }

  // DNS-01: the credential must exist before anything is sent.
  if (ch.provider === "rfc2136") {
    try {
      tsigKeyFrom(ch.credentialId, o.ctx.credentials);
    } catch (err) {
      return o.domains.map((domain) => ({ name: "preflight", outcome: "failed", ms: 0, domain, message: (err as Error).message }));
    }
  }
  // A test value per domain (the solver waits until it is visible, as before a real order).
  const solver = solverFor({ ...ch, propagationSeconds: 0 } as Challenge, o.ctx);
  const results: StepReport[] = [];
  for (const d of o.domains) {
    results.push(await timed(d, async () => {
      const p = await solver.present({ domain: d.replace(/^\*\./, ""), token, keyAuthorization: `${keyAuth}.${d}` }, o.signal);
      try {
        await p.waitReady(o.signal);
      } finally {
        await p.cleanup();
      }
      return ch.provider === "exec" && !o.ctx.dnsResolver ? "hook ran (visibility not checked: no DNS server to ask)" : "TXT record added, visible, removed";
    }));
  }
  return results;
}
