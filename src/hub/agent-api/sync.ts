// POST /api/agent/v1/sync — the periodic (and nudged) exchange.
// The agent sends its settings version, command cursor, certificate-list hash and any
// results; the hub answers only what changed. When nothing did, the answer is 204 and the
// only cost is the in-memory heartbeat (flushed in batches): no query, no write.
import { audit } from "../../db/audit";
import { commandsAfter, markDelivered, recordResults } from "../../db/commands";
import { SyncRequestSchema, type Command, type SyncResponse } from "../../protocol";
import { instanceConfig } from "../core/instance-config";
import { whatIsWaiting } from "../fleet/waiting";
import { readJson, type Ctx } from "./util";
import { authenticate, flagConflict } from "./verify";

/** Commands per response; the agent syncs again at once while more are pending. */
const COMMAND_BATCH = 100;

export async function handleSync(c: Ctx) {
  const { db, fleet } = c.get("deps");
  const authed = await authenticate(c, { sequence: "enforce", endpoint: "sync" });
  if (!authed.ok) return authed.response;
  const { inst, raw, ip } = authed.auth;
  const body = await readJson(c, SyncRequestSchema, raw);
  if (!body.ok) return body.response;
  const req = body.value;
  const res: SyncResponse = { syncIntervalSeconds: inst.syncIntervalSeconds };
  let changed = false;

  // Results are idempotent (first report wins), so they are accepted even in conflict mode;
  // every id is acknowledged so the agent's outbox drains (unknown ids have nothing to store).
  if (req.results?.length) {
    await recordResults(db, inst.id, req.results);
    res.ackResults = req.results.map((r) => r.commandId);
    changed = true;
  }

  if (authed.auth.conflict) {
    // Two processes present this identity: deliver nothing until an admin resets it.
    res.identityConflict = true;
    if (inst.identityResetPending) res.rekey = true;
    return c.json(res);
  }

  if (req.facts) {
    const f = req.facts;
    if (inst.machineId && f.machineId && inst.machineId !== f.machineId) {
      await flagConflict(c, inst, "machine id changed", ip);
      return c.json({ ...res, identityConflict: true });
    }
    const allowScripts = f.allowScripts ?? null; // null: an agent too old to report its script policy
    if (f.hostname !== inst.hostname || f.os !== inst.os || f.arch !== inst.arch || f.version !== inst.version || (f.machineId ?? null) !== inst.machineId || allowScripts !== inst.allowScripts) {
      const before = { hostname: inst.hostname, version: inst.version };
      await fleet.patchCached(inst, { hostname: f.hostname, os: f.os, arch: f.arch, version: f.version, machineId: f.machineId ?? inst.machineId, allowScripts });
      if (f.version !== before.version) await audit(db, { id: null, label: before.hostname, ip }, "instance.version", { type: "instance", id: inst.id }, { from: before.version, to: f.version });
    }
  }

  if (req.certificates) {
    const hash = req.certificatesHash ?? `n${req.certificates.length}-${Date.now()}`;
    await fleet.storeReports(inst, req.certificates, hash, { accounts: req.accounts, externalManagers: req.externalManagers });
    res.certificatesHash = hash;
    changed = true;
  } else if (req.certificatesHash !== undefined && req.certificatesHash !== inst.certificatesHash) {
    res.needCertificates = true;
    changed = true;
  }

  if (req.cursor > inst.latestCommandSeq) {
    // The agent claims commands the hub never issued (hub restored from a backup?): tell it
    // where the hub stands; it keeps its executed ids, so nothing runs twice.
    res.resetCursor = inst.latestCommandSeq;
    return c.json(res);
  }
  if (req.cursor > inst.commandCursor) {
    await fleet.advanceCursor(inst, req.cursor);
  }
  // Revocation never gets here: authenticate() refused the request already.
  const waiting = whatIsWaiting(inst, { cursor: req.cursor, settingsVersion: req.settingsVersion }, undefined);
  if (waiting.commands) {
    const rows = await commandsAfter(db, inst.id, req.cursor, COMMAND_BATCH);
    if (rows.length) {
      const now = Date.now();
      await markDelivered(db, inst.id, rows.filter((r) => r.status === "queued").map((r) => r.id), now);
      res.commands = rows.map(
        (r): Command => ({ id: r.id, seq: r.seq, type: r.type, payload: r.payload, createdAt: r.createdAt }),
      );
      changed = true;
    }
  }

  if (waiting.config) {
    res.config = await instanceConfig(c.get("deps"), inst);
    changed = true;
  }
  if (waiting.rekey) {
    res.rekey = true;
    changed = true;
  }
  if (!changed) return c.body(null, 204);
  return c.json(res);
}
