// JOIN FLOW (hub side): POST /api/agent/v1/join
//
// 1. rate limits (security/join-limits.ts): every join per address; failures per address+client
//    id (locks that client id there) and per address (a spray of client ids is answered 429;
//    a client id that has not failed from the address still joins)
// 2. body: joining key (client id + secret), the agent's new Ed25519 public key, host facts;
//    the request is signed with that new key (proof the agent holds the private half)
// 3. the joining key is checked (SHA-256 compared in constant time; revoked, expired,
//    retired and used-up keys each get their own error) and one use is consumed atomically
// 4. the instance is created; from here on the agent authenticates with its key pair only,
//    so retiring the joining key does not strand hosts already joined with it.
// A retried join with the same public key (response lost on the way back) returns the same
// instance instead of creating a second one or consuming another use.
import { audit } from "../../db/audit";
import { checkApiToken, checkJoiningKey, consumeJoiningKeyUse, TOKEN_ERROR_MESSAGES, type TokenCheck } from "../../db/api-tokens";
import { findJoined, getInstance, newInstanceId } from "../../db/instances";
import { JoinRequestSchema, type ErrorCode, type JoinResponse } from "../../protocol";
import { JOIN_INSTANCE_ID, MAX_CLOCK_SKEW_MS, parsePublicKey, signedPath, readSignatureHeaders, sha256HexOf, verifySignature } from "../../protocol/signing";
import { VERSION } from "../../version";
import { AuditBursts } from "../security/audit-bursts";
import { JoinLimits } from "../security/join-limits";
import { clientIp, fail, readJson, type Ctx } from "./util";

type Reason = Exclude<TokenCheck, { ok: true }>["reason"];
const REASON: Record<Reason, { status: 401 | 403; code: ErrorCode }> = {
  invalid: { status: 401, code: "invalid-credentials" },
  revoked: { status: 403, code: "key-revoked" },
  expired: { status: 403, code: "key-expired" },
  retired: { status: 403, code: "key-retired" },
  "used-up": { status: 403, code: "key-used-up" },
  "wrong-role": { status: 403, code: "key-wrong-role" },
  disabled: { status: 403, code: "key-disabled" },
  "owner-lacks-role": { status: 403, code: "key-wrong-role" },
};

/** The refusal for a joining key that is not (or no longer) usable. */
export function joinRefusal(c: Ctx, reason: Reason) {
  const r = REASON[reason];
  return fail(c, r.status, `join refused: ${TOKEN_ERROR_MESSAGES[reason]}`, r.code);
}

export interface JoinLimiters {
  limits: JoinLimits;
  /** Failures from an address over its limit, audited as one counted row per window. */
  bursts?: AuditBursts;
}

export function createJoinLimiters(): JoinLimiters {
  return { limits: new JoinLimits() };
}

export async function handleJoin(c: Ctx, limiters: JoinLimiters) {
  const { db, fleet, services } = c.get("deps");
  const { limits } = limiters;
  const ip = clientIp(c) ?? "unknown";
  const limited = (retry: number) => fail(c, 429, `too many join attempts; retry in ${retry} s`, "rate-limited", { "Retry-After": String(retry) });

  const all = limits.request(ip);
  if (!all.ok) return limited(all.retryAfterSeconds);

  const body = await readJson(c, JoinRequestSchema);
  if (!body.ok) return body.response;
  const req = body.value;

  const hdr = readSignatureHeaders((n) => c.req.header(n));
  if (!hdr || hdr.instanceId !== JOIN_INSTANCE_ID) return fail(c, 401, "missing or malformed request signature headers", "bad-signature");
  if (Math.abs(Date.now() - hdr.time) > MAX_CLOCK_SKEW_MS) {
    return fail(c, 401, "request timestamp is outside the accepted window: check this host's clock", "clock-skew");
  }
  let signedOk = false;
  try {
    signedOk = verifySignature(
      parsePublicKey(req.publicKey),
      { method: "POST", path: signedPath("join"), instanceId: JOIN_INSTANCE_ID, time: hdr.time, seq: hdr.seq, bootId: hdr.bootId, bodySha256: sha256HexOf(body.raw) },
      hdr.signature,
    );
  } catch {}
  if (!signedOk) return fail(c, 401, "join request signature does not verify with the submitted public key", "bad-signature");

  // Limit check, key check and failure count run as one step per address and client id: checked
  // first and counted after an await, a burst of simultaneous guesses all passed the check.
  // Only a wrong secret (or unknown client id) is a guess: a right secret for a key that is
  // revoked, expired or used up gives its slot back, as a right password does at sign-in.
  const outcome = await limits.run(ip, req.clientId, async () => {
    const result = await checkApiToken(db, req.clientId, req.secret, "join");
    return { ok: result.ok || result.reason !== "invalid", value: result };
  });
  if (outcome.limited) return limited(outcome.retryAfterSeconds);
  const check = outcome.value;
  if (!check.ok) {
    const clientId = req.clientId.slice(0, 64);
    if (outcome.addressOverLimit && check.reason === "invalid") {
      // Spraying client ids from this address: no answer but 429, one counted audit row per window.
      if (!limiters.bursts) {
        const bursts = (limiters.bursts = new AuditBursts(db));
        services.push({ name: "join-audit-bursts", stop: () => bursts.flushAll() });
      }
      await limiters.bursts.record(`join|${ip}`, limits.perAddress.windowEnd(ip), { id: null, label: "join (any key)", ip }, "instance.join", { scope: "address", reason: "rate-limited", lastClientId: clientId });
      return limited(limits.addressRetryAfter(ip));
    }
    await audit(db, { id: check.token?.principalId ?? null, label: `join ${clientId}`, ip }, "instance.join", null, { clientId, reason: check.reason, hostname: req.facts.hostname }, "failure");
    const r = REASON[check.reason];
    return fail(c, r.status, `join refused: ${TOKEN_ERROR_MESSAGES[check.reason]}`, r.code);
  }
  const token = check.token;

  // A retry of a join that already succeeded (same key pair): hand back the same instance.
  const existing = await findJoined(db, req.publicKey, token.id);
  if (existing) {
    const row = await getInstance(db, existing.id);
    return c.json(joinResponse(existing.id, token.groupName, row?.syncIntervalSeconds ?? fleet.defaultSyncIntervalSeconds));
  }

  const instanceId = newInstanceId();
  // Counts the use only if the key is still usable now (max uses, expiry, revocation, owner
  // disabled or stripped of the role meanwhile), in the same transaction as the insert.
  const created = await fleet.createInstance(
    instanceId,
    {
      hostname: req.facts.hostname,
      os: req.facts.os,
      arch: req.facts.arch,
      version: req.facts.version,
      machineId: req.facts.machineId ?? null,
      publicKey: req.publicKey,
      joiningKeyId: token.id,
      groupName: token.groupName,
      syncIntervalSeconds: fleet.defaultSyncIntervalSeconds,
      lastIp: ip,
      lastBootId: hdr.bootId,
      lastSeq: 0,
    },
    (tx) => consumeJoiningKeyUse(tx, token.id, ip, instanceId),
  );
  if (!created) {
    const now = await checkJoiningKey(db, token.id);
    return joinRefusal(c, now.ok ? "used-up" : now.reason);
  }
  await audit(db, { id: token.principalId, label: `key ${token.title}`, ip }, "instance.join", { type: "instance", id: instanceId }, {
    hostname: req.facts.hostname,
    clientId: token.clientId,
    group: token.groupName,
    version: req.facts.version,
  });
  fleet.metrics.counter("certhub_joins_total", "Successful instance joins").inc();
  return c.json(joinResponse(instanceId, token.groupName, fleet.defaultSyncIntervalSeconds));
}

function joinResponse(instanceId: string, group: string | null, syncIntervalSeconds: number): JoinResponse {
  return { instanceId, group, syncIntervalSeconds, hubVersion: VERSION };
}
