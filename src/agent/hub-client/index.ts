// The agent's HTTP client for the hub's agent API. Every request is signed with the instance
// key (src/protocol/signing.ts). Sequence numbers increase across restarts: they are
// reserved in blocks in the agent database, and a new process starts after the last block.
import type { KeyObject } from "node:crypto";
import type { AgentStore, HubLink } from "../db/store";
import {
  AGENT_API_PREFIX,
  ErrorBodySchema,
  JOIN_INSTANCE_ID,
  JoinResponseSchema,
  generateInstanceKeyPair,
  loadPrivateKey,
  sha256HexOf,
  signRequest,
  signedPath,
  type Facts,
  type JoinResponse,
  type KeyPair,
  type PushHas,
} from "../../protocol";
import { HubClientError, classifyFetchError } from "./errors";
import { isBusyStatus, parseRetryAfter } from "./retry-after";
import { fetchPinnedCertificate, fetchTlsOptions } from "./tls";

export { HubClientError } from "./errors";
export { isBusyStatus, MAX_RETRY_AFTER_MS, parseRetryAfter } from "./retry-after";
export { watchUpgradeRefusal, type UpgradeRefusal } from "./upgrade-refusal";

export interface HubResponse<T> {
  status: number;
  body: T | null;
}

/** Page addresses of the hub UI: a URL copied from the browser is cut back to the hub's base. */
const HUB_PAGE_PATH = /\/(login|logout|account|dashboard|instances|certificates|settings|audit)(\/.*)?$/;

/** Normalises a hub URL as typed by an admin: http(s) only, no trailing slash, no query. */
export function normalizeHubUrl(input: string): string {
  const typed = input.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(typed)) {
    throw new HubClientError("bad-response", `"${typed}" has no scheme: add https:// (e.g. https://${typed.replace(/^\/+/, "") || "hub.example.com:9697"})`);
  }
  let u: URL;
  try {
    u = new URL(typed);
  } catch {
    throw new HubClientError("bad-response", `"${typed}" is not a valid URL (expected the hub's base URL, e.g. https://hub.example.com:9697)`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new HubClientError("bad-response", `the hub URL must start with https:// (got ${u.protocol}//)`);
  if (u.username || u.password) throw new HubClientError("bad-response", "hub URL must not contain credentials");
  const pathname = u.pathname.replace(/\/+$/, "").replace(/\/api\/agent\/v1$/, "").replace(HUB_PAGE_PATH, "");
  return `${u.protocol}//${u.host}${pathname}`;
}

/** The dashboard's join commands show `<secret>` where the secret goes: catch it left in. */
export function checkJoinSecret(secret: string): void {
  if (/^<.*>$/.test(secret.trim()) || secret.includes("<secret>")) {
    throw new HubClientError("bad-response", "the secret is still the placeholder <secret>: paste the joining key's secret (shown once when the key was created; create a new key under Settings › API Access if it is lost)");
  }
}

/** Advice for the likely URL mistakes behind a low-level connection error. */
function explainConnectError(err: HubClientError, url: string): HubClientError {
  if (err.kind !== "unreachable" && err.kind !== "bad-response") return err;
  const m = err.message;
  if (url.startsWith("http:") && /ECONNRESET|socket connection was closed|ConnectionClosed|EPROTO|unexpectedly/i.test(m)) {
    return new HubClientError("unreachable", `the hub at ${url} closed the connection: the hub speaks HTTPS by default, use ${url.replace(/^http:/, "https:")}`);
  }
  if (/redirect/i.test(m)) {
    return new HubClientError("bad-response", `${url} answered with a redirect: use the hub's base URL (e.g. ${new URL(url).origin}), not the address of a page`);
  }
  return err;
}

async function send(url: string, headers: Record<string, string>, body: string, tls: Record<string, unknown> | undefined, timeoutMs: number, signal?: AbortSignal) {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    return await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      redirect: "error",
      ...(tls ? { tls } : {}),
    } as RequestInit);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw explainConnectError(classifyFetchError(err, url), url.replace(/\/api\/agent\/v1\/[a-z]+$/, ""));
  }
}

async function readResponse<T>(res: Response): Promise<HubResponse<T>> {
  if (res.status === 204) return { status: 204, body: null };
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new HubClientError("bad-response", `the hub answered ${res.status} with a non-JSON body (is this a certhub hub URL?)`, res.status);
  }
  if (res.status >= 400) {
    // Validated, not cast: a proxy's or a newer hub's error body must not reach logs as anything but text.
    const e = ErrorBodySchema.safeParse(body);
    const err = e.success ? e.data : undefined;
    const retryAfterMs = isBusyStatus(res.status) ? (parseRetryAfter(res.headers.get("retry-after")) ?? undefined) : undefined;
    throw new HubClientError("hub", err?.error ?? `hub answered ${res.status}`, res.status, err?.code, retryAfterMs);
  }
  return { status: res.status, body: body as T };
}

export interface JoinOutcome {
  response: JoinResponse;
  keyPair: KeyPair;
  url: string;
  pinnedCertPem: string | null;
}

/** JOIN FLOW (agent side): pin check, new key pair, signed join request. */
export async function joinHub(opts: {
  url: string;
  clientId: string;
  secret: string;
  fingerprint: string | null;
  facts: Facts;
  bootId: string;
}): Promise<JoinOutcome> {
  const url = normalizeHubUrl(opts.url);
  checkJoinSecret(opts.secret);
  let pem: string | null = null;
  if (opts.fingerprint) {
    if (!url.startsWith("https:")) throw new HubClientError("tls", `a fingerprint pins the hub's TLS certificate, so the hub speaks HTTPS: use ${url.replace(/^http:/, "https:")}`);
    pem = await fetchPinnedCertificate(url, opts.fingerprint);
  }
  const keyPair = generateInstanceKeyPair();
  const privateKey = loadPrivateKey(keyPair.privateKeyPkcs8);
  const body = JSON.stringify({ clientId: opts.clientId, secret: opts.secret, publicKey: keyPair.publicKey, facts: opts.facts });
  const tls = fetchTlsOptions({ fingerprint: opts.fingerprint, pem });
  // One retry with the same key pair if the connection failed: the hub treats a repeated
  // join with the same public key as the same instance.
  for (let attempt = 0; ; attempt++) {
    const headers = signRequest(privateKey, { method: "POST", path: signedPath("join"), instanceId: JOIN_INSTANCE_ID, time: Date.now(), seq: 0, bootId: opts.bootId, bodySha256: sha256HexOf(body) });
    try {
      const res = await send(`${url}${AGENT_API_PREFIX}/join`, headers, body, tls, 20_000);
      const { body: json } = await readResponse<unknown>(res);
      const parsed = JoinResponseSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new HubClientError("bad-response", `the hub's join answer is not valid: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim());
      }
      return { response: parsed.data, keyPair, url, pinnedCertPem: pem };
    } catch (err) {
      if (attempt === 0 && err instanceof HubClientError && err.kind === "unreachable") {
        await Bun.sleep(500);
        continue;
      }
      // The hub is busy (many hosts joining at once) and says when to come back: within the
      // time a caller of the local API waits, do so once, never earlier than it asked.
      if (attempt === 0 && err instanceof HubClientError && isBusyStatus(err.status) && err.retryAfterMs !== undefined) {
        if (err.retryAfterMs <= JOIN_RETRY_AFTER_MAX_MS) {
          await Bun.sleep(err.retryAfterMs + Math.random() * Math.min(err.retryAfterMs / 4, 5000));
          continue;
        }
        const said = /retry in/i.test(err.message) ? err.message : `${err.message} (the hub asked to retry in ${Math.ceil(err.retryAfterMs / 1000)} s)`;
        throw new HubClientError("hub", said, err.status, err.code, err.retryAfterMs);
      }
      throw err;
    }
  }
}

/** Longest Retry-After a join waits through by itself (the local API's callers wait ~90 s). */
const JOIN_RETRY_AFTER_MAX_MS = 30_000;

/** A signed session with the hub for one joined identity. */
export class HubClient {
  private privateKey: KeyObject;
  private seq: number;
  private reserved: number;
  private tls: Record<string, unknown> | undefined;
  readonly url: string;
  readonly instanceId: string;

  constructor(
    private store: AgentStore,
    link: HubLink,
    readonly bootId: string,
  ) {
    this.url = link.url;
    this.instanceId = link.instanceId;
    this.privateKey = loadPrivateKey(link.privateKey);
    // Start past everything a previous process may have used.
    this.seq = link.seqReserved;
    this.reserved = link.seqReserved;
    this.tls = fetchTlsOptions({ fingerprint: link.fingerprint, pem: link.pinnedCertPem });
  }

  private async nextSeq(): Promise<number> {
    this.seq++;
    if (this.seq >= this.reserved) this.reserved = await this.store.reserveSeq(this.seq);
    return this.seq;
  }

  /** Signed POST to an agent API endpoint. `sequenced` requests get a fresh sequence number. */
  async post<T>(endpoint: "sync" | "wait" | "rekey" | "leave", payload: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<HubResponse<T>> {
    const body = JSON.stringify(payload);
    // Waits may overlap syncs, so they reuse the current number instead of taking one.
    const seq = endpoint === "wait" ? this.seq : await this.nextSeq();
    const headers = signRequest(this.privateKey, { method: "POST", path: signedPath(endpoint), instanceId: this.instanceId, time: Date.now(), seq, bootId: this.bootId, bodySha256: sha256HexOf(body) });
    const res = await send(`${this.url}${AGENT_API_PREFIX}/${endpoint}`, headers, body, this.tls, opts.timeoutMs ?? 30_000, opts.signal);
    return readResponse<T>(res);
  }

  /**
   * Opens the WebSocket push channel (GET /push, protocol/push.ts), signed like a wait (current
   * sequence number, empty body) and with the same TLS trust as every other request (pinned
   * certificate or system roots). The caller handles open/message/close.
   */
  openPush(has: PushHas): WebSocket {
    const path = signedPath("push");
    const headers = signRequest(this.privateKey, { method: "GET", path, instanceId: this.instanceId, time: Date.now(), seq: this.seq, bootId: this.bootId, bodySha256: sha256HexOf("") });
    const url = `${this.url.replace(/^http/, "ws")}${path}?cursor=${has.cursor}&settingsVersion=${has.settingsVersion}`;
    // perMessageDeflate off: the frames are tiny, and each compressor costs memory on both ends.
    return new WebSocket(url, { headers, perMessageDeflate: false, ...(this.tls ? { tls: this.tls } : {}) } as unknown as string[]);
  }

  /** Switches to a new key (after /rekey succeeded). */
  useKey(privateKeyPkcs8: string) {
    this.privateKey = loadPrivateKey(privateKeyPkcs8);
  }
}
