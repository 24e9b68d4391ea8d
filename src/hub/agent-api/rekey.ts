// POST /api/agent/v1/rekey — resolves an identity conflict after an admin's "reset identity".
// Every process holding the old identity is told to re-key. The first request signed with the
// current key keeps the instance (its key is replaced and the conflict cleared, atomically with
// the request's sequence number). The key it replaced is kept as the *retired* key, and may be
// used exactly once more: by the other holder of the old identity, which becomes a new instance
// with the same joining key and group (clonedFromId records where it came from). That re-join
// counts as a join: the joining key must still be usable (state, expiry, max uses, owner
// enabled and holding the role) and one use is consumed, in the same transaction that uses up
// the retired key — so replays, and any second holder, are refused.
import { audit } from "../../db/audit";
import { checkJoiningKey, consumeJoiningKeyUse } from "../../db/api-tokens";
import { getInstance, newInstanceId, takeRetiredKey } from "../../db/instances";
import { RekeyRequestSchema, type RekeyResponse } from "../../protocol";
import { joinRefusal } from "./join";
import { fail, readJson, type Ctx } from "./util";
import { authenticate } from "./verify";

class JoiningKeyRefused extends Error {}

export async function handleRekey(c: Ctx) {
  const { db, fleet } = c.get("deps");
  const authed = await authenticate(c, { sequence: "ignore", allowRetiredKey: true, endpoint: "rekey" });
  if (!authed.ok) return authed.response;
  const { inst, hdr, ip } = authed.auth;
  const body = await readJson(c, RekeyRequestSchema, authed.auth.raw);
  if (!body.ok) return body.response;
  const req = body.value;
  const replay = () => fail(c, 409, `sequence ${hdr.seq} was already used: replayed or out-of-order request`, "replay");

  if (!authed.auth.signedWithRetiredKey) {
    if (!inst.identityResetPending) return fail(c, 409, "no identity reset is pending for this instance", "not-pending");
    if (hdr.seq <= inst.lastSeq && hdr.bootId === inst.lastBootId) return replay();
    // The new key, the cleared reset and the sequence land in one conditional write: a crash
    // cannot separate them, and of two concurrent re-keys only one applies.
    const fresh = await fleet.rekey(inst.id, inst.publicKeyRaw, {
      publicKey: req.newPublicKey,
      retiredPublicKey: inst.publicKeyRaw,
      identityResetPending: false,
      identityConflict: false,
      lastSeq: hdr.seq,
      lastBootId: hdr.bootId,
      ...(req.facts ? { hostname: req.facts.hostname, machineId: req.facts.machineId ?? null, version: req.facts.version } : {}),
    });
    if (!fresh) return fail(c, 409, "no identity reset is pending for this instance", "not-pending");
    fleet.recordSeen(fresh, ip);
    await audit(db, { id: null, label: inst.hostname, ip }, "instance.rekey", { type: "instance", id: inst.id });
    return c.json({ instanceId: inst.id, keptInstance: true } satisfies RekeyResponse);
  }

  // Signed with the retired key: another holder of the old identity, re-joining once.
  const original = await getInstance(db, inst.id);
  if (!original) return fail(c, 401, "this instance is not known to the hub; join again", "instance-unknown");
  // A replay of the re-key that kept the instance (it installed the very key it names), or a
  // request from the process that re-keyed (its boot id and an old sequence).
  if (req.newPublicKey === original.publicKey) return replay();
  if (hdr.bootId === original.lastBootId && hdr.seq <= original.lastSeq) return replay();
  if (!original.joiningKeyId || !original.retiredPublicKey) return joinRefusal(c, "invalid");
  const keyId = original.joiningKeyId;
  const retired = original.retiredPublicKey;

  const id = newInstanceId();
  const facts = req.facts ?? { hostname: original.hostname, os: original.os, arch: original.arch, version: original.version };
  let created: boolean;
  try {
    created = await fleet.createInstance(
      id,
      {
        hostname: facts.hostname,
        os: facts.os,
        arch: facts.arch,
        version: facts.version,
        machineId: req.facts?.machineId ?? null,
        publicKey: req.newPublicKey,
        joiningKeyId: keyId,
        groupName: original.groupName,
        syncIntervalSeconds: original.syncIntervalSeconds,
        clonedFromId: original.id,
        lastIp: ip,
        lastBootId: hdr.bootId,
        lastSeq: hdr.seq,
      },
      async (t) => {
        if (!(await takeRetiredKey(t, original.id, retired))) return false;
        // Throwing rolls the transaction back: a refused re-join keeps the retired key.
        if (!(await consumeJoiningKeyUse(t, keyId, ip, id))) throw new JoiningKeyRefused();
        return true;
      },
    );
  } catch (err) {
    if (!(err instanceof JoiningKeyRefused)) throw err;
    const why = await checkJoiningKey(db, keyId);
    await audit(db, { id: null, label: facts.hostname, ip }, "instance.clone-rejoin", { type: "instance", id: original.id }, { reason: why.ok ? "used-up" : why.reason }, "failure");
    return joinRefusal(c, why.ok ? "used-up" : why.reason);
  }
  await fleet.refresh(original.id); // the retired key is gone from the cached credentials too
  if (!created) return replay(); // another request used the retired key first
  await audit(db, { id: null, label: facts.hostname, ip }, "instance.clone-rejoin", { type: "instance", id }, { clonedFrom: original.id });
  fleet.metrics.counter("certhub_joins_total", "Successful instance joins").inc();
  return c.json({ instanceId: id, keptInstance: false } satisfies RekeyResponse);
}
