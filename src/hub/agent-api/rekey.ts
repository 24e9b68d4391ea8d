// POST /api/agent/v1/rekey — resolves an identity conflict after an admin's "reset identity".
// Every process holding the old identity is told to re-key. The first request signed with the
// current key keeps the instance (its key is replaced and the conflict cleared); any later
// request, signed with the now retired key, becomes a new instance with the same joining key
// and group (clonedFromId records where it came from).
import { audit } from "../../db/audit";
import { getInstance, insertInstance, newInstanceId, updateInstance } from "../../db/instances";
import { RekeyRequestSchema, type RekeyResponse } from "../../protocol/schemas";
import { toCached } from "../fleet/cache";
import { fail, readJson, type Ctx } from "./util";
import { authenticate } from "./verify";

export async function handleRekey(c: Ctx) {
  const { db, fleet } = c.get("deps");
  const authed = await authenticate(c, { sequence: "ignore", allowRetiredKey: true, endpoint: "rekey" });
  if (!authed.ok) return authed.response;
  const { inst, hdr, ip } = authed.auth;
  const body = await readJson(c, RekeyRequestSchema, authed.auth.raw);
  if (!body.ok) return body.response;
  const req = body.value;

  if (!authed.auth.signedWithRetiredKey) {
    if (!inst.identityResetPending) return fail(c, 409, "no identity reset is pending for this instance", "not-pending");
    if (hdr.seq <= inst.lastSeq && hdr.bootId === inst.lastBootId) {
      return fail(c, 409, `sequence ${hdr.seq} was already used: replayed or out-of-order request`, "replay");
    }
    await updateInstance(db, inst.id, {
      publicKey: req.newPublicKey,
      retiredPublicKey: inst.publicKeyRaw,
      identityResetPending: false,
      identityConflict: false,
      lastSeq: hdr.seq,
      lastBootId: hdr.bootId,
      ...(req.facts ? { hostname: req.facts.hostname, machineId: req.facts.machineId ?? null, version: req.facts.version } : {}),
    });
    const fresh = await fleet.refresh(inst.id, { resetSequence: true });
    if (fresh) fleet.recordSeen(fresh, ip);
    await audit(db, { id: null, label: inst.hostname, ip }, "instance.rekey", { type: "instance", id: inst.id });
    return c.json({ instanceId: inst.id, keptInstance: true } satisfies RekeyResponse);
  }

  // Signed with the retired key: another holder of the old identity. It becomes a new instance.
  const original = await getInstance(db, inst.id);
  if (!original) return fail(c, 401, "this instance is not known to the hub; join again", "instance-unknown");
  const id = newInstanceId();
  const facts = req.facts ?? { hostname: original.hostname, os: original.os, arch: original.arch, version: original.version };
  await insertInstance(db, id, {
    hostname: facts.hostname,
    os: facts.os,
    arch: facts.arch,
    version: facts.version,
    machineId: req.facts?.machineId ?? null,
    publicKey: req.newPublicKey,
    joiningKeyId: original.joiningKeyId,
    groupName: original.groupName,
    syncIntervalSeconds: original.syncIntervalSeconds,
    clonedFromId: original.id,
    lastIp: ip,
    lastBootId: hdr.bootId,
    lastSeq: hdr.seq,
  });
  const row = await getInstance(db, id);
  if (row) fleet.prime(toCached(row));
  await audit(db, { id: null, label: facts.hostname, ip }, "instance.clone-rejoin", { type: "instance", id }, { clonedFrom: original.id });
  return c.json({ instanceId: id, keptInstance: false } satisfies RekeyResponse);
}
