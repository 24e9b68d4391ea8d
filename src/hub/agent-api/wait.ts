// POST /api/agent/v1/wait — the push channel. The agent keeps one long-poll open; it returns
// {nudge:true} the moment anything is waiting for the agent (a command, new settings, a
// reset, a revocation), and {nudge:false} after the timeout, when the agent simply re-polls.
// It carries no data, so it does not take part in the sequence rules: a wait may overlap a
// sync. Replaying one reveals nothing.
// Only an authenticated wait may hold its connection past the server's short idle timeout;
// while descriptors run short (server.ts) new waits are refused with 503 + Retry-After and the
// agent falls back to its periodic sync until then. One identity holds at most two push
// connections, waits and WebSockets together (fleet/notifier.ts).
//
// Two ways in, one set of rules (admitWait, verify.ts):
//  - serveWait: Bun.serve's fetch hands it a plain wait (server.ts, isPlainWait) before Hono.
//    A fleet on the long-poll fallback holds one wait per agent and re-polls every 50 s, so
//    what a wait allocates and keeps is per agent: through Hono each wait kept ~29 objects
//    (~2.7 KiB: the request's body stream, a copy of the answer's headers, the placeholder's
//    promises) and each re-poll left the middleware chain's garbage (context, ~25 async
//    frames) behind for the collector. Here a held wait keeps the Request, the notifier's
//    entry and one callback; it answers with the same status, headers, body and metrics as
//    the Hono route.
//  - handleWait: the Hono route, for everything else (a chunked or oversized body, in-process
//    app.request): it answers through agent-api/deferred.ts.
import { parse as parseCookies } from "hono/utils/cookie";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { describeStorageError } from "../../db/storage-errors";
import { AGENT_API_PREFIX, BODY_LIMITS, WaitRequestSchema, type WaitResponse } from "../../protocol";
import type { HubDeps } from "../context";
import { IDLE_TIMEOUT_SECONDS } from "../descriptors";
import type { FleetService } from "../fleet";
import { shouldWake, type AgentHas } from "../fleet/waiting";
import { admitAgentRequest } from "../middleware/agent-admission";
import { SESSION_COOKIE } from "../middleware/auth";
import { SECURITY_HEADERS } from "../middleware/security-headers";
import { deferJson } from "./deferred";
import { bunServer, clientIpOfRequest, parseBody, type BunServerLike, type Ctx } from "./util";
import { authenticate, refuse, shortOfConnections, verifySigned, type Refusal } from "./verify";

const DEFAULT_WAIT_SECONDS = 25;
let plainWaits = 0;

/** Waits served on the plain path since start (tests check it is the path taken). */
export function plainWaitsServed(): number {
  return plainWaits;
}
const WAIT_PATH = `${AGENT_API_PREFIX}/wait`;
const VERIFY = { sequence: "ignore", endpoint: "wait" } as const;

export async function handleWait(c: Ctx) {
  const { fleet } = c.get("deps");
  const authed = await authenticate(c, VERIFY);
  if (!authed.ok) return authed.response;
  const admitted = admitWait(fleet, authed.auth.inst.id, authed.auth.raw);
  if (!admitted.ok) return refuse(c, admitted.refusal);
  const { id, has, seconds } = admitted;
  return deferJson(c.req.raw, holdWait(fleet, id, has, seconds, c.req.raw, bunServer(c)).then(toWaitResponse));
}

type Admitted = { ok: true; id: string; has: AgentHas; seconds: number } | { ok: false; refusal: Refusal };

/** The checks after authentication: the body, descriptor pressure, the identity's cap. */
function admitWait(fleet: FleetService, id: string, raw: Uint8Array): Admitted {
  const body = parseBody(WaitRequestSchema, raw);
  if (!body.ok) return { ok: false, refusal: { status: 400, error: body.error, code: "bad-request" } };
  if (fleet.push.shedding) return { ok: false, refusal: shortOfConnections("wait") };
  // One cap for waits and sockets together (fleet/notifier.ts): a new wait replaces the
  // identity's oldest wait, but never one of its WebSockets.
  if (!fleet.push.admits(id)) {
    return { ok: false, refusal: { status: 429, error: "this instance already holds its push connections", code: "rate-limited", headers: { "Retry-After": "60" } } };
  }
  const { cursor, settingsVersion } = body.value;
  return { ok: true, id, has: { cursor, settingsVersion }, seconds: Math.min(body.value.timeoutSeconds ?? DEFAULT_WAIT_SECONDS, 55) };
}

const toWaitResponse = (nudge: boolean): WaitResponse => ({ nudge });

/**
 * The held part of a wait, outside any middleware chain: resolves with whether the agent was
 * nudged. A plain function on purpose: closures made inside an async handler would keep its
 * whole scope (the request context, the parsed body, the authentication) alive for the wait.
 */
function holdWait(fleet: FleetService, id: string, has: AgentHas, seconds: number, req: Request, server: BunServerLike | null): Promise<boolean> {
  allowIdle(server, req, seconds + 10);
  return fleet.waitFor(id, readyCheck(fleet, id, has), seconds * 1000, req.signal).then((nudge) => {
    allowIdle(server, req, IDLE_TIMEOUT_SECONDS + 5);
    return nudge;
  });
}

/**
 * The server closes connections idle longer than IDLE_TIMEOUT_SECONDS; a wait may idle for
 * its whole length. Set back afterwards: the allowance lasts past the response otherwise.
 */
function allowIdle(server: BunServerLike | null, req: Request, seconds: number) {
  try {
    server?.timeout?.(req, seconds);
  } catch {}
}

/** Whether something waits for the agent now (checked at once and after every nudge). */
function readyCheck(fleet: FleetService, id: string, has: AgentHas): () => boolean {
  return () => {
    const inst = fleet.peekInstance(id);
    if (!inst) return true; // removed, or reloaded after a change: let the agent sync
    return shouldWake(inst, has, inst.joiningKeyId ? fleet.peekKeyState(inst.joiningKeyId) : undefined);
  };
}

// ---- The plain path (server.ts), before Hono ------------------------------------------------

/**
 * Whether server.ts may hand this request to serveWait: POST to exactly the wait path with a
 * Content-Length within the route's body limit. Anything else (chunked, oversized, another
 * path spelling) goes through Hono, whose answers (413, 404, …) stay the reference.
 */
export function isPlainWait(req: Request): boolean {
  if (req.method !== "POST") return false;
  const url = req.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0 || !url.startsWith(WAIT_PATH, start)) return false;
  const end = start + WAIT_PATH.length;
  if (url.length !== end && url[end] !== "?") return false;
  const headers = req.headers;
  if (headers.has("transfer-encoding")) return false;
  const length = headers.get("content-length");
  return length !== null && /^[0-9]{1,9}$/.test(length) && Number(length) <= BODY_LIMITS.small;
}

/**
 * A wait served straight from Bun.serve's fetch: the same admission turn, checks, answers and
 * metrics as the Hono route (agentAdmission, instrument, requestMetrics, securityHeaders).
 * The promise handed to Bun is resolved by hand (no async function adopting the held
 * promise), and the held part runs in a plain function: per held wait the hub keeps this
 * promise, the notifier's entry and its timer, and one callback with the few values it needs.
 */
export function serveWait(req: Request, server: BunServerLike | null, deps: HubDeps): Promise<Response> {
  plainWaits++;
  const { promise, resolve } = Promise.withResolvers<Response>();
  void checkWait(req, server, deps, resolve);
  return promise;
}

async function checkWait(req: Request, server: BunServerLike | null, deps: HubDeps, answer: (res: Response) => void): Promise<void> {
  const started = performance.now();
  const style = answerStyle(req);
  let status: number;
  try {
    if (deps.fleet.push.shedding) {
      // Before the admission queue and the signature check (verify.ts, shortOfConnections).
      const r = shortOfConnections("wait");
      status = r.status;
      answer(jsonAnswer(r.status, JSON.stringify({ error: r.error, code: r.code }), style, r.headers));
      countWait(deps, status, started);
      return;
    }
    await admitAgentRequest();
    const verified = await verifySigned(
      deps,
      {
        method: req.method,
        header: (name) => req.headers.get(name),
        body: async () => new Uint8Array(await req.arrayBuffer()),
        ip: () => clientIpOfRequest(req, server, deps.config.trustProxy),
      },
      VERIFY,
    );
    const admitted = verified.ok ? admitWait(deps.fleet, verified.auth.inst.id, verified.auth.raw) : verified;
    if (admitted.ok) {
      status = 200;
      holdPlainWait(deps.fleet, admitted.id, admitted.has, admitted.seconds, req, server, style, answer);
    } else {
      const r = admitted.refusal;
      status = r.status;
      answer(jsonAnswer(r.status, JSON.stringify(r.code ? { error: r.error, code: r.code } : { error: r.error }), style, r.headers));
    }
  } catch (err) {
    // As the agent API's onError: a storage fault is a 503 naming it, anything else a 500.
    const storage = describeStorageError(err);
    if (!storage) console.error(`agent API POST ${WAIT_PATH}: ${err instanceof Error ? err.stack : err}`);
    status = storage ? 503 : 500;
    answer(jsonAnswer(status as ContentfulStatusCode, JSON.stringify({ error: storage ?? "internal error" }), style));
  }
  countWait(deps, status, started);
}

/** holdWait for the plain path, answering through `answer` (a plain function: see holdWait). */
function holdPlainWait(fleet: FleetService, id: string, has: AgentHas, seconds: number, req: Request, server: BunServerLike | null, style: number, answer: (res: Response) => void) {
  allowIdle(server, req, seconds + 10);
  // One callback for both outcomes; a rejection (nothing in the notifier rejects today) is a
  // 500 as in deferred.ts.
  const end = (nudge: unknown) => {
    allowIdle(server, req, IDLE_TIMEOUT_SECONDS + 5);
    answer(typeof nudge === "boolean" ? jsonAnswer(200, nudge ? NUDGED : NOT_NUDGED, style) : Response.json({ error: "internal error" }, { status: 500 }));
  };
  fleet.waitFor(id, readyCheck(fleet, id, has), seconds * 1000, req.signal).then(end, end);
}

const NUDGED = JSON.stringify({ nudge: true } satisfies WaitResponse);
const NOT_NUDGED = JSON.stringify({ nudge: false } satisfies WaitResponse);

/** What securityHeaders would add, read from the request once (bits, so a held wait keeps a number). */
const HTTPS = 1;
const SIGNED_IN = 2;

function answerStyle(req: Request): number {
  let style = req.url.startsWith("https:") ? HTTPS : 0;
  // As securityHeaders: anyone presenting credentials gets no-store (agents send none).
  const cookie = req.headers.get("cookie");
  if (req.headers.has("authorization") || (cookie !== null && parseCookies(cookie, SESSION_COOKIE)[SESSION_COOKIE] !== undefined)) style |= SIGNED_IN;
  return style;
}

/** The JSON answer as the Hono route renders it: c.json's headers, then securityHeaders'. */
function jsonAnswer(status: ContentfulStatusCode, body: string, style: number, extra?: Record<string, string>): Response {
  const headers = new Headers({ "Content-Type": "application/json" });
  if (extra) for (const name in extra) headers.set(name, extra[name]!);
  for (const [name, value] of SECURITY_HEADERS) headers.set(name, value);
  if (style & SIGNED_IN) headers.set("Cache-Control", "no-store");
  if (style & HTTPS) headers.set("Strict-Transport-Security", "max-age=31536000");
  return new Response(body, { status, headers });
}

/** The metrics the Hono route's middleware records (requestMetrics, instrument). */
function countWait(deps: HubDeps, status: number, started: number) {
  const m = deps.metrics;
  const s = String(status);
  m.counter("certhub_http_requests_total", "HTTP requests handled by the hub").inc({ method: "POST", route: WAIT_PATH, status: s });
  m.histogram("certhub_http_request_duration_seconds", "HTTP request latency").observe({ method: "POST", route: WAIT_PATH }, (performance.now() - started) / 1000);
  m.counter("certhub_agent_requests_total", "Agent API requests").inc({ endpoint: "wait", status: s });
}
