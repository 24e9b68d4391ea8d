// One sync exchange of the agent with its hub (src/agent/sync/): send pending results, reports
// and facts, then store what the hub answers (config, commands, cursor), and the re-key after
// an admin's "reset identity". Every hub answer is validated with zod before use.
import { InstanceConfigSchema } from "../../protocol/certificates";
import { generateInstanceKeyPair, RekeyResponseSchema, SyncResponseSchema, type SyncRequest } from "../../protocol";
import { saveInstanceConfig } from "../db/config";
import type { CertificateReports, HubLink } from "../db/store";
import { hashCertificates } from "../db/store";
import { hostFacts } from "../facts";
import { HubClient } from "../hub-client";
import type { SyncEngine } from "./engine";
import { parseHub, type Session } from "./session";

const EMPTY_REPORTS: CertificateReports = { certificates: [], accounts: [], externalManagers: [] };

/** One sync exchange. Returns true when another should follow at once. */
export async function syncOnce(engine: SyncEngine, session: Session): Promise<boolean> {
  const link = engine.link!;
  const client = engine.client!;
  const results = await engine.store.pendingResults(200);
  const reports = engine.opts.reports ? await engine.opts.reports() : EMPTY_REPORTS;
  const hash = hashCertificates(reports);
  const req: SyncRequest = { settingsVersion: link.settingsVersion, cursor: link.commandCursor, certificatesHash: hash };
  if (results.length) req.results = results;
  if (hash !== link.certificatesHashAcked || engine.needCertificates) {
    req.certificates = reports.certificates;
    req.accounts = reports.accounts;
    req.externalManagers = reports.externalManagers;
  }
  if (engine.sendFacts) req.facts = engine.opts.allowScripts === undefined ? hostFacts() : { ...hostFacts(), allowScripts: engine.opts.allowScripts };

  const res = await client.post<unknown>("sync", req);
  if (!session.active) return false;
  engine.sendFacts = false;
  engine.needCertificates = false;
  const now = Date.now();
  const patch: Partial<HubLink> = { lastSyncAt: now, lastError: null };
  if (link.state !== "joined") patch.state = "joined";
  if (link.state === "revoked") {
    engine.opts.log("access restored: the hub reinstated this instance");
    engine.revokedSeenAt = null;
  }
  let more = false;
  const body = res.status !== 204 && res.body ? parseHub(SyncResponseSchema, res.body, "sync") : null;
  if (body) {
    if (body.ackResults?.length) await engine.store.ackResults(body.ackResults);
    if (results.length >= 200) more = true;
    if (body.certificatesHash) patch.certificatesHashAcked = body.certificatesHash;
    if (body.needCertificates) {
      engine.needCertificates = true;
      more = true;
    }
    if (body.config !== undefined) {
      const config = InstanceConfigSchema.safeParse(body.config);
      if (config.success) {
        await saveInstanceConfig(engine.store.db, config.data);
        await engine.store.replaceHubSettings(config.data.settings);
        patch.settingsVersion = config.data.version;
        await engine.opts.onConfig?.(config.data);
      } else {
        // Keep the old version so the hub sends it again once fixed; say what was wrong.
        const issue = config.error.issues[0];
        engine.opts.log(`the hub sent an invalid configuration (${issue?.path.join(".")}: ${issue?.message}); keeping the previous one`);
      }
    }
    if (body.syncIntervalSeconds && body.syncIntervalSeconds !== link.syncIntervalSeconds) patch.syncIntervalSeconds = body.syncIntervalSeconds;
    if (body.resetCursor !== undefined) {
      patch.commandCursor = body.resetCursor;
      more = true;
    }
    if (body.commands?.length) {
      await engine.store.receiveCommands(body.commands);
      patch.commandCursor = Math.max(link.commandCursor, ...body.commands.map((c) => c.seq));
      more = true; // until the hub has nothing after the cursor
      void engine.executor.kick();
    }
    patch.identityConflict = Boolean(body.identityConflict);
    if (patch.identityConflict && !link.identityConflict) engine.opts.log("the hub reports an identity conflict: another process uses this agent's identity (cloned data dir?)");
  } else if (link.identityConflict) {
    patch.identityConflict = false;
  }
  await engine.store.updateLink(patch);
  Object.assign(link, patch);
  engine.connection = "connected";
  engine.lastError = null;
  engine.lastSyncAt = now;
  if (body?.rekey) {
    await rekey(engine);
    more = true;
  }
  return more;
}

/** After an admin's "reset identity": new key pair; the hub says whether we keep the instance. */
export async function rekey(engine: SyncEngine) {
  const link = engine.link!;
  const kp = generateInstanceKeyPair();
  const res = await engine.client!.post<unknown>("rekey", { newPublicKey: kp.publicKey, facts: hostFacts() });
  const r = parseHub(RekeyResponseSchema, res.body, "rekey");
  const patch: Partial<HubLink> = { instanceId: r.instanceId, publicKey: kp.publicKey, privateKey: kp.privateKeyPkcs8, identityConflict: false };
  if (!r.keptInstance) Object.assign(patch, { commandCursor: 0, settingsVersion: 0, certificatesHashAcked: null });
  await engine.store.updateLink(patch);
  Object.assign(link, patch, await engine.store.getLink());
  engine.opts.log(r.keptInstance ? `identity re-keyed; still instance ${r.instanceId}` : `identity re-keyed as a new instance ${r.instanceId} (this was a copy)`);
  engine.client = new HubClient(engine.store, link, engine.opts.bootId);
  engine.sendFacts = true;
  engine.session?.waitAbort?.abort(); // the open wait was signed with the old identity
}
