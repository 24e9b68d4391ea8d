// The transport of RFC 8555: directory, nonces (with badNonce retry), signed POSTs and
// POST-as-GET, Retry-After on 429/503, polling, problem+json → AcmeProblem. Each client is
// scoped to one directory and its own trusted roots (Bun's per-request `tls.ca`), and every
// request has a timeout so an unreachable or untrusted CA fails fast instead of hanging.
import { z } from "zod";
import { signJws } from "./jws";
import { AcmeProblem } from "./problem";

const DirectorySchema = z.object({
  newNonce: z.string().url(),
  newAccount: z.string().url(),
  newOrder: z.string().url(),
  revokeCert: z.string().url().optional(),
  keyChange: z.string().url().optional(),
  renewalInfo: z.string().url().optional(),
  meta: z
    .object({
      termsOfService: z.string().optional(),
      externalAccountRequired: z.boolean().optional(),
      profiles: z.record(z.string(), z.unknown()).optional(),
    })
    .passthrough()
    .optional(),
}).passthrough();
export type Directory = z.infer<typeof DirectorySchema>;

const ProblemSchema = z.object({
  type: z.string().max(512).default("about:blank"),
  detail: z.string().max(4000).optional(),
  title: z.string().max(4000).optional(),
  status: z.number().int().optional(),
  subproblems: z.array(z.unknown()).max(100).optional(),
}).passthrough();

/** The CA could not be reached at all (DNS, TCP, TLS trust, timeout); says which and where. */
export class AcmeConnectionError extends Error {
  code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "AcmeConnectionError";
    this.code = code;
  }
}

export interface Signer { key: CryptoKey; kid?: string; jwk?: JsonWebKey }

export interface ClientOptions {
  directoryUrl: string;
  trustedRootsPem?: string;
  signal?: AbortSignal;
  /** Per HTTP request. */
  requestTimeoutMs?: number;
  /** Longest Retry-After (429/503) we sleep through before giving up with the CA's problem. */
  maxRetryAfterMs?: number;
}

const TLS_CODES = /CERT|SELF_SIGNED|ISSUER|UNABLE_TO_VERIFY|TLS|SSL|HOSTNAME|ALTNAME/i;
const BAD_NONCE_RETRIES = 10;
const RATE_RETRIES = 3;

export function parseRetryAfter(h: string | null, now = Date.now()): number | null {
  if (!h) return null;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((ok, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); ok(); }, ms);
    const onAbort = () => { clearTimeout(t); fail(signal!.reason); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class AcmeClient {
  readonly directoryUrl: string;
  private readonly ca?: string;
  readonly signal?: AbortSignal;
  private readonly timeoutMs: number;
  private readonly maxRetryAfterMs: number;
  private dir?: Directory;
  private nonces: string[] = [];

  constructor(o: ClientOptions) {
    this.directoryUrl = o.directoryUrl;
    this.ca = o.trustedRootsPem?.trim() || undefined;
    this.signal = o.signal;
    this.timeoutMs = o.requestTimeoutMs ?? 30_000;
    this.maxRetryAfterMs = o.maxRetryAfterMs ?? 60_000;
  }

  /** fetch with this directory's trust, a timeout and errors that say what went wrong. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    try {
      const res = await fetch(url, { ...init, signal, redirect: "manual", ...(this.ca ? { tls: { ca: this.ca } } : {}) } as RequestInit);
      const nonce = res.headers.get("replay-nonce");
      if (nonce && /^[A-Za-z0-9_-]+$/.test(nonce)) this.nonces.push(nonce);
      return res;
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason ?? err;
      const e = err as { code?: string; name?: string; message?: string };
      const code = String(e.code ?? e.name ?? "ERROR");
      const where = new URL(url).host;
      if (timeout.aborted || e.name === "TimeoutError")
        throw new AcmeConnectionError(`ACME server ${where} did not answer within ${Math.round(this.timeoutMs / 1000)} s`, "TIMEOUT");
      if (TLS_CODES.test(code) || TLS_CODES.test(e.message ?? ""))
        throw new AcmeConnectionError(
          `TLS certificate of ACME server ${where} is not trusted (${code}${e.message ? `: ${e.message}` : ""}); for a private CA add its root to the CA account's trusted roots`,
          code,
        );
      throw new AcmeConnectionError(`cannot reach ACME server ${where}: ${e.message ?? code} (${code})`, code);
    }
  }

  async directory(): Promise<Directory> {
    if (this.dir) return this.dir;
    const res = await this.fetch(this.directoryUrl, { headers: { accept: "application/json" } });
    if (!res.ok) throw await problemFrom(res);
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new Error(`${this.directoryUrl} is not an ACME directory (not JSON)`);
    }
    const parsed = DirectorySchema.safeParse(body);
    if (!parsed.success) throw new Error(`${this.directoryUrl} is not an ACME directory (no newNonce/newAccount/newOrder)`);
    this.dir = parsed.data;
    return this.dir;
  }

  private async nonce(): Promise<string> {
    const n = this.nonces.pop();
    if (n) return n;
    const dir = await this.directory();
    const res = await this.fetch(dir.newNonce, { method: "HEAD" });
    const fresh = this.nonces.pop();
    if (!fresh) throw new Error(`ACME server gave no Replay-Nonce (HTTP ${res.status} from newNonce)`);
    return fresh;
  }

  /**
   * A signed POST (payload) or POST-as-GET (payload null). Retries badNonce with a fresh nonce,
   * and 429/503 after the CA's Retry-After when that is short; any other error → AcmeProblem.
   */
  async post(url: string, payload: unknown | null, signer: Signer, accept = "application/json"): Promise<Response> {
    let badNonces = 0;
    let rateWaits = 0;
    for (;;) {
      const nonce = await this.nonce();
      const header = signer.kid ? { url, nonce, kid: signer.kid } : { url, nonce, jwk: signer.jwk };
      const jws = await signJws(signer.key, header, payload);
      const res = await this.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/jose+json", accept },
        body: JSON.stringify(jws),
      });
      if (res.status < 400) return res;
      const problem = await problemFrom(res);
      if (problem.is("badNonce") && badNonces++ < BAD_NONCE_RETRIES) continue;
      const wait = problem.retryAfterMs;
      if ((res.status === 429 || res.status === 503) && wait !== undefined && wait <= this.maxRetryAfterMs && rateWaits++ < RATE_RETRIES) {
        await sleep(wait, this.signal);
        continue;
      }
      throw problem;
    }
  }

  async postJson<T = unknown>(url: string, payload: unknown | null, signer: Signer): Promise<{ res: Response; body: T }> {
    const res = await this.post(url, payload, signer);
    const body = (await res.json().catch(() => {
      throw new Error(`ACME server sent a non-JSON answer from ${url}`);
    })) as T;
    return { res, body };
  }

  /**
   * POST-as-GET `url` until `done(body)` is true, waiting the CA's Retry-After between polls
   * (bounded to 0.2 … 10 s) or a growing back-off when it sends none.
   */
  async poll<T>(url: string, signer: Signer, done: (body: T) => boolean, what: string, timeoutMs = 180_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let backoff = 250;
    for (;;) {
      const { res, body } = await this.postJson<T>(url, null, signer);
      if (done(body)) return body;
      if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
      const ra = parseRetryAfter(res.headers.get("retry-after"));
      const wait = ra !== null ? Math.min(Math.max(ra, 200), 10_000) : backoff;
      backoff = Math.min(backoff * 2, 5_000);
      await sleep(wait, this.signal);
    }
  }
}

/** Reads an error response as a problem document; falls back to the status text. */
export async function problemFrom(res: Response): Promise<AcmeProblem> {
  const retryAfterMs = parseRetryAfter(res.headers.get("retry-after")) ?? undefined;
  const text = await res.text().catch(() => "");
  let parsed: z.infer<typeof ProblemSchema> | null = null;
  try {
    const r = ProblemSchema.safeParse(JSON.parse(text));
    if (r.success) parsed = r.data;
  } catch {}
  const detail = parsed?.detail ?? parsed?.title ?? (text.trim().slice(0, 500) || `HTTP ${res.status} ${res.statusText}`);
  return new AcmeProblem({ type: parsed?.type ?? "about:blank", status: parsed?.status ?? res.status, detail, subproblems: parsed?.subproblems, retryAfterMs });
}

/** A problem object embedded in a challenge/authz/order (no HTTP response of its own). */
export function problemFromObject(obj: unknown, fallback: string): AcmeProblem {
  const r = ProblemSchema.safeParse(obj);
  if (!r.success) return new AcmeProblem({ type: "about:blank", status: 400, detail: fallback });
  return new AcmeProblem({ type: r.data.type, status: r.data.status ?? 400, detail: r.data.detail ?? r.data.title ?? fallback, subproblems: r.data.subproblems });
}
