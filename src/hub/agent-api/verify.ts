// Authenticates a signed agent request: signature headers, clock window, instance key,
// revocation (instance and joining key, checked on every request), and the sequence rules
// that catch replays and cloned identities:
//   seq > lastSeq                      accepted (a new boot id here is a restart)
//   seq <= lastSeq, same boot id       replayed or out-of-order → 409, nothing changes
//   seq <= lastSeq, other boot id      two processes share the identity → identity conflict
// The in-memory high-water mark is flushed in batches (fleet/last-seen.ts), which is enough for
// heartbeats. A request that may change state (see mayChangeState) first writes its sequence
// to the database, conditionally, so that a captured request cannot be replayed after a hub
// crash (or against a second hub process) — before it has any effect.
// verifySigned() runs on any request (held waits are verified outside Hono: wait.ts);
// authenticate() is the same for a Hono route.
import { audit } from "../../db/audit";
import { commitSequence } from "../../db/instances";
import { describeStorageError } from "../../db/storage-errors";
import {
  MAX_CLOCK_SKEW_MS,
  signedPath,
  readSignatureHeaders,
  sha256HexOf,
  verifySignature,
  type ParsedSignatureHeaders,
} from "../../protocol/signing";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode } from "../../protocol";
import type { HubDeps } from "../context";
import type { CachedInstance, FleetService, KeyInfo } from "../fleet";
import { clientIp, fail, type Ctx } from "./util";

export interface Authenticated {
  inst: CachedInstance;
  hdr: ParsedSignatureHeaders;
  raw: Uint8Array;
  ip: string | null;
  key: KeyInfo | null;
  /** The request was signed with the key retired by an identity reset (only with allowRetiredKey). */
  signedWithRetiredKey: boolean;
  /** The identity is in conflict: accept the heartbeat, deliver nothing. */
  conflict: boolean;
}

export type AuthOutcome = { ok: true; auth: Authenticated } | { ok: false; response: Response };

/** An answer refusing a request, before it is rendered (by Hono's context, or directly: wait.ts). */
export interface Refusal {
  status: ContentfulStatusCode;
  error: string;
  code?: ErrorCode;
  headers?: Record<string, string>;
}

/**
 * The answer to a push request (wait or WebSocket) while descriptors run short. It does not
 * depend on who asks, so it is given before the request queues for admission or is verified:
 * every push request holds a descriptor until it is answered. Retry-After is spread so a fleet
 * refused together does not come back together.
 */
export function shortOfConnections(channel: "wait" | "push channel"): Refusal {
  const retryAfter = String(15 + Math.floor(Math.random() * 45));
  return { status: 503, error: `the hub is short of connections; keep syncing and retry the ${channel} later`, code: "rate-limited", headers: { "Retry-After": retryAfter, Connection: "close" } };
}

export type Verified = { ok: true; auth: Authenticated } | { ok: false; refusal: Refusal };

/** What verification reads of a request, so that it runs on a Hono context or a plain Request. */
export interface SignedRequest {
  method: string;
  header(name: string): string | null | undefined;
  /** The raw body; read only once the headers passed (an unsigned body is never read). */
  body(): Promise<Uint8Array>;
  ip(): string | null;
}

/** authenticate() for a Hono route: refusals rendered with the route's context. */
export async function authenticate(
  c: Ctx,
  opts: { sequence: "enforce" | "ignore"; allowRetiredKey?: boolean; endpoint: string },
): Promise<AuthOutcome> {
  const verified = await verifySigned(
    c.get("deps"),
    {
      method: c.req.method,
      header: (n) => c.req.header(n),
      body: async () => new Uint8Array(await c.req.arrayBuffer()),
      ip: () => clientIp(c),
    },
    opts,
  );
  return verified.ok ? verified : { ok: false, response: refuse(c, verified.refusal) };
}

/** A refusal as a JSON answer through Hono's context. */
export function refuse(c: Ctx, r: Refusal): Response {
  return fail(c, r.status, r.error, r.code, r.headers);
}

/** Every check of a signed agent request (see the file comment), on any kind of request. */
export async function verifySigned(
  deps: Pick<HubDeps, "db" | "fleet">,
  req: SignedRequest,
  opts: { sequence: "enforce" | "ignore"; allowRetiredKey?: boolean; endpoint: string },
): Promise<Verified> {
  const fleet: FleetService = deps.fleet;
  const hdr = readSignatureHeaders(req.header);
  const no = (status: ContentfulStatusCode, error: string, code?: ErrorCode, headers?: Record<string, string>): Verified => ({
    ok: false,
    refusal: { status, error, code, headers },
  });
  if (!hdr) return no(401, "missing or malformed request signature headers", "bad-signature");
  const now = Date.now();
  if (Math.abs(now - hdr.time) > MAX_CLOCK_SKEW_MS) {
    return no(401, "request timestamp is outside the accepted window: check this host's clock", "clock-skew");
  }
  const raw = await req.body();
  const inst = await fleet.getInstance(hdr.instanceId);
  if (!inst) return no(401, "this instance is not known to the hub (it was removed or left); join again", "instance-unknown");

  const parts = {
    method: req.method,
    path: signedPath(opts.endpoint),
    instanceId: hdr.instanceId,
    time: hdr.time,
    seq: hdr.seq,
    bootId: hdr.bootId,
    bodySha256: sha256HexOf(raw),
  };
  let signedWithRetiredKey = false;
  if (!verifySignature(inst.publicKey, parts, hdr.signature)) {
    if (inst.retiredPublicKey && verifySignature(inst.retiredPublicKey, parts, hdr.signature)) {
      if (!opts.allowRetiredKey) {
        return no(409, "this identity was reset by an administrator: re-key required", "rekey-required");
      }
      signedWithRetiredKey = true;
    } else {
      return no(401, "request signature does not verify", "bad-signature");
    }
  }

  if (inst.state === "revoked") return no(403, "access revoked: this instance was revoked in the hub", "instance-revoked");
  const key = inst.joiningKeyId ? await fleet.keyInfo(inst.joiningKeyId) : null;
  if (key?.state === "revoked") {
    return no(403, `access revoked: the joining key "${key.title}" was revoked`, "key-revoked");
  }

  const ip = req.ip();
  let conflict = inst.identityConflict;
  if (opts.sequence === "enforce" && !signedWithRetiredKey) {
    if (hdr.seq > inst.lastSeq) {
      inst.lastSeq = hdr.seq;
      inst.lastBootId = hdr.bootId;
      if (mayChangeState(opts.endpoint, raw, inst)) {
        let committed: boolean;
        try {
          committed = await commitSequence(deps.db, inst.id, hdr.seq, hdr.bootId, ip, now);
        } catch (err) {
          // Nothing happened yet; the agent retries with a higher sequence once the disk is fixed.
          const storage = describeStorageError(err);
          if (!storage) throw err;
          return no(503, `the hub cannot store this request: ${storage}`, undefined, { "Retry-After": "30" });
        }
        // The database is ahead of this process's memory: the sequence was used already.
        if (!committed) return no(409, `sequence ${hdr.seq} was already used: replayed or out-of-order request`, "replay");
      }
    } else if (!inst.identityConflict) {
      if (hdr.bootId === inst.lastBootId) {
        return no(409, `sequence ${hdr.seq} was already used: replayed or out-of-order request`, "replay");
      }
      conflict = true;
      await flagConflictIn(deps, inst, `sequence ${hdr.seq} <= ${inst.lastSeq} from another process (boot ${hdr.bootId})`, ip);
    }
  }
  fleet.recordSeen(inst, ip, now);
  return { ok: true, auth: { inst, hdr, raw, ip, key, signedWithRetiredKey, conflict } };
}

/** Sync fields that only ask (what changed?) and never make the hub write anything. */
const READ_ONLY_SYNC_FIELDS = new Set(["settingsVersion", "cursor", "certificatesHash"]);

/**
 * Whether a request may change hub state, so its sequence must be persisted first. Only the
 * unchanged sync — the hot path — is exempt: nothing but the read-only fields, a cursor that
 * neither advances nor has commands waiting behind it (delivery marks them). Anything else,
 * including fields added to the protocol later, counts as state-changing. Waits carry no
 * sequence; every other endpoint (leave, …) writes.
 */
export function mayChangeState(endpoint: string, raw: Uint8Array, inst: Pick<CachedInstance, "commandCursor" | "latestCommandSeq">): boolean {
  if (endpoint === "wait") return false;
  if (endpoint !== "sync") return true;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return false; // refused as bad JSON before anything happens
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  for (const key of Object.keys(body)) if (!READ_ONLY_SYNC_FIELDS.has(key)) return true;
  const cursor = (body as { cursor?: unknown }).cursor;
  if (typeof cursor !== "number") return false; // refused by the schema
  return cursor > inst.commandCursor || inst.latestCommandSeq > cursor;
}

/** Marks the identity as shared by two processes; an admin resolves it with "reset identity". */
export async function flagConflict(c: Ctx, inst: CachedInstance, reason: string, ip: string | null) {
  await flagConflictIn(c.get("deps"), inst, reason, ip);
}

async function flagConflictIn(deps: Pick<HubDeps, "db" | "fleet">, inst: CachedInstance, reason: string, ip: string | null) {
  const { db, fleet } = deps;
  await fleet.patchCached(inst, { identityConflict: true });
  fleet.metrics.counter("certhub_identity_conflicts_total", "Identity conflicts detected (cloned agents)").inc();
  await audit(db, { id: null, label: "system", ip }, "instance.identity-conflict", { type: "instance", id: inst.id }, { reason });
}

