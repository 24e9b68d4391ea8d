// The agent's connection to its hub: two loops per joined identity.
// - sync loop: periodic sync (hub-chosen interval, ±10 % jitter), immediately when nudged,
//   when results are waiting or when the hub has more to send; on failures it backs off
//   exponentially with jitter so a restarted hub is not stampeded by its whole fleet.
// - push loop: a WebSocket the hub nudges as soon as something is queued (push, < 2 s); where
//   a proxy breaks upgrades, the long-poll (/wait) instead, with the WebSocket re-tried now and
//   then. Either way a nudge only triggers a sync: the push channel carries no data.
// A sync that changes nothing costs one small signed request and a 204.
// Every hub answer is validated with zod before use (a hub is trusted to configure, not to
// crash the agent); a received InstanceConfig is stored and handed to the certificate lifecycle.
import { z } from "zod";
import { InstanceConfigSchema, type InstanceConfig } from "../protocol/certificates";
import { generateInstanceKeyPair, CUT_OFF_CODES, PushMessageSchema, RekeyResponseSchema, type PushMessage, SyncResponseSchema, WaitResponseSchema, type SyncRequest } from "../protocol";
import type { CommandExecutor } from "./commands";
import { saveInstanceConfig } from "./db/config";
import type { AgentStore, CertificateReports, HubLink } from "./db/store";
import { hashCertificates } from "./db/store";
import { hostFacts } from "./facts";
import { HubClient, HubClientError } from "./hub-client";

export type Connection = "connecting" | "connected" | "unreachable" | "revoked" | "removed";

// Under the 60 s idle timeout common to reverse proxies and load balancers; a proxy that cuts
// sooner just makes the agent re-poll (see waitLoop).
const WAIT_SECONDS = 50;
const REVOKED_RECHECK_MS = 5 * 60_000;
// Right after a revocation an admin may reinstate (a mistake, a key swap): ask every few
// seconds for a while so "reinstated" takes effect at once, then fall back to the slow pace.
const REVOKED_FAST_RECHECK_MS = 5_000;
const REVOKED_FAST_WINDOW_MS = 15 * 60_000;
const MAX_BACKOFF_MS = 60_000;
/** After the WebSocket failed to open, the long-poll serves this long (jittered) before a retry. */
const WEBSOCKET_RETRY_MS = 10 * 60_000;
const WEBSOCKET_OPEN_TIMEOUT_MS = 10_000;
/** The hub answers on open at once; silence means something in between broke the upgrade. */
const WEBSOCKET_FIRST_FRAME_MS = 2_000;

/** CERTHUB_PUSH=long-poll keeps an agent on the long-poll (e.g. behind a proxy known to break upgrades). */
export function webSocketPushWanted(env: Record<string, string | undefined> = process.env): boolean {
  return env.CERTHUB_PUSH !== "long-poll";
}

interface Session {
  active: boolean;
  wake: () => void;
  waitAbort: AbortController | null;
  /** Resolves when the session ends, so no loop sits in a long pause during shutdown. */
  ended: Promise<void>;
  end: () => void;
}

function newSession(): Session {
  let end = () => {};
  const ended = new Promise<void>((r) => (end = r));
  return { active: true, wake: () => {}, waitAbort: null, ended, end };
}

// Hub answers are validated with the shared schemas (src/protocol/sync.ts, wait.ts, rekey.ts).
function parseHub<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new HubClientError("bad-response", `the hub sent an invalid ${what} answer: ${parsed.error.issues[0]?.path.join(".") || ""} ${parsed.error.issues[0]?.message ?? ""}`.trim());
  return parsed.data;
}

export interface SyncHooks {
  /** The certificate, account and external-manager reports to send (when their hash changes). */
  reports?: () => Promise<CertificateReports>;
  /** A validated InstanceConfig arrived (already stored). */
  onConfig?: (config: InstanceConfig) => Promise<void>;
}

const EMPTY_REPORTS: CertificateReports = { certificates: [], accounts: [], externalManagers: [] };

const jitter = (ms: number, spread = 0.1) => Math.round(ms * (1 - spread + Math.random() * 2 * spread));
const backoff = (failures: number) => Math.round(Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 10)) * (0.5 + Math.random() * 0.5));

export class SyncEngine {
  private link: HubLink | null = null;
  private client: HubClient | null = null;
  private session: Session | null = null;
  private loops: Promise<void>[] = [];
  private immediate = false;
  private sendFacts = true;
  private needCertificates = false;
  private failures = 0;
  /** When this process first saw the revocation (the fast re-check window starts there). */
  private revokedSeenAt: number | null = null;
  private syncWaiters: (() => void)[] = [];
  /** The last sync failed because the hub could not be reached. */
  private hubUnreachable = false;
  connection: Connection = "connecting";
  /** The push channel in use: "websocket", "long-poll", or null while none is held. */
  pushChannel: "websocket" | "long-poll" | null = null;
  lastError: string | null = null;
  lastSyncAt: number | null = null;

  constructor(
    private store: AgentStore,
    private executor: CommandExecutor,
    private opts: { bootId: string; log: (msg: string) => void; allowScripts?: boolean; webSocketPush?: boolean } & SyncHooks,
  ) {}

  get bootId(): string {
    return this.opts.bootId;
  }

  get current(): HubLink | null {
    return this.link;
  }

  async start() {
    const link = await this.store.getLink();
    if (link) this.attach(link);
  }

  /** Begins talking to the hub of `link` (after start or a join). */
  attach(link: HubLink) {
    this.detach();
    this.link = link;
    this.client = new HubClient(this.store, link, this.opts.bootId);
    this.connection = link.state === "revoked" ? "revoked" : link.state === "removed" ? "removed" : "connecting";
    this.lastError = link.lastError;
    this.lastSyncAt = link.lastSyncAt;
    this.sendFacts = true;
    this.failures = 0;
    this.immediate = true;
    const session = newSession();
    this.session = session;
    this.loops = [this.syncLoop(session), this.waitLoop(session)];
  }

  /** Stops the loops of the current identity (leave, re-join, shutdown). */
  detach() {
    const s = this.session;
    if (!s) return;
    s.active = false;
    s.waitAbort?.abort();
    s.wake();
    s.end();
    this.session = null;
    this.client = null;
  }

  forget() {
    this.detach();
    this.link = null;
    this.connection = "connecting";
    this.lastError = null;
    this.lastSyncAt = null;
  }

  /** Requests a sync as soon as possible (coalesced). */
  syncNow() {
    this.immediate = true;
    this.session?.wake();
  }

  async stop() {
    this.detach();
    await Promise.allSettled(this.loops);
  }

  /** Signed request with the current identity (used by leave). */
  get hubClient(): HubClient | null {
    return this.client;
  }

  // ---- sync loop ----------------------------------------------------------------------------

  private sleep(session: Session, ms: number): Promise<void> {
    if (this.immediate || !session.active) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      session.wake = done;
    });
  }

  private nextDelay(): number {
    const link = this.link;
    if (!link) return 60_000;
    if (link.state === "revoked") {
      const since = Date.now() - (this.revokedSeenAt ?? 0);
      return since < REVOKED_FAST_WINDOW_MS ? jitter(REVOKED_FAST_RECHECK_MS) : jitter(REVOKED_RECHECK_MS);
    }
    if (this.failures > 0) return backoff(this.failures);
    return jitter(link.syncIntervalSeconds * 1000);
  }

  private async syncLoop(session: Session) {
    while (session.active) {
      await this.sleep(session, this.nextDelay());
      if (!session.active) break;
      if (this.link?.state === "removed") {
        this.immediate = false;
        await this.sleep(session, 3600_000); // nothing to do until someone joins again
        continue;
      }
      this.immediate = false;
      try {
        const more = await this.syncOnce(session);
        this.failures = 0;
        this.hubUnreachable = false;
        if (more) this.immediate = true;
      } catch (err) {
        await this.onSyncError(err).catch((e) => {
          // e.g. the agent database is unwritable: keep the loop alive and retry later.
          this.failures++;
          this.opts.log(`sync error handling failed: ${e instanceof Error ? e.message : e}`);
        });
      } finally {
        for (const w of this.syncWaiters.splice(0)) w();
      }
    }
  }

  /** One sync exchange. Returns true when another should follow at once. */
  private async syncOnce(session: Session): Promise<boolean> {
    const link = this.link!;
    const client = this.client!;
    const results = await this.store.pendingResults(200);
    const reports = this.opts.reports ? await this.opts.reports() : EMPTY_REPORTS;
    const hash = hashCertificates(reports);
    const req: SyncRequest = { settingsVersion: link.settingsVersion, cursor: link.commandCursor, certificatesHash: hash };
    if (results.length) req.results = results;
    if (hash !== link.certificatesHashAcked || this.needCertificates) {
      req.certificates = reports.certificates;
      req.accounts = reports.accounts;
      req.externalManagers = reports.externalManagers;
    }
    if (this.sendFacts) req.facts = this.opts.allowScripts === undefined ? hostFacts() : { ...hostFacts(), allowScripts: this.opts.allowScripts };

    const res = await client.post<unknown>("sync", req);
    if (!session.active) return false;
    this.sendFacts = false;
    this.needCertificates = false;
    const now = Date.now();
    const patch: Partial<HubLink> = { lastSyncAt: now, lastError: null };
    if (link.state !== "joined") patch.state = "joined";
    if (link.state === "revoked") {
      this.opts.log("access restored: the hub reinstated this instance");
      this.revokedSeenAt = null;
    }
    let more = false;
    const body = res.status !== 204 && res.body ? parseHub(SyncResponseSchema, res.body, "sync") : null;
    if (body) {
      if (body.ackResults?.length) await this.store.ackResults(body.ackResults);
      if (results.length >= 200) more = true;
      if (body.certificatesHash) patch.certificatesHashAcked = body.certificatesHash;
      if (body.needCertificates) {
        this.needCertificates = true;
        more = true;
      }
      if (body.config !== undefined) {
        const config = InstanceConfigSchema.safeParse(body.config);
        if (config.success) {
          await saveInstanceConfig(this.store.db, config.data);
          await this.store.replaceHubSettings(config.data.settings);
          patch.settingsVersion = config.data.version;
          await this.opts.onConfig?.(config.data);
        } else {
          // Keep the old version so the hub sends it again once fixed; say what was wrong.
          const issue = config.error.issues[0];
          this.opts.log(`the hub sent an invalid configuration (${issue?.path.join(".")}: ${issue?.message}); keeping the previous one`);
        }
      }
      if (body.syncIntervalSeconds && body.syncIntervalSeconds !== link.syncIntervalSeconds) patch.syncIntervalSeconds = body.syncIntervalSeconds;
      if (body.resetCursor !== undefined) {
        patch.commandCursor = body.resetCursor;
        more = true;
      }
      if (body.commands?.length) {
        await this.store.receiveCommands(body.commands);
        patch.commandCursor = Math.max(link.commandCursor, ...body.commands.map((c) => c.seq));
        more = true; // until the hub has nothing after the cursor
        void this.executor.kick();
      }
      patch.identityConflict = Boolean(body.identityConflict);
      if (patch.identityConflict && !link.identityConflict) this.opts.log("the hub reports an identity conflict: another process uses this agent's identity (cloned data dir?)");
    } else if (link.identityConflict) {
      patch.identityConflict = false;
    }
    await this.store.updateLink(patch);
    Object.assign(link, patch);
    this.connection = "connected";
    this.lastError = null;
    this.lastSyncAt = now;
    if (body?.rekey) {
      await this.rekey();
      more = true;
    }
    return more;
  }

  private async onSyncError(err: unknown) {
    // Only a hub out of reach says the push socket may be dead (a half-open connection).
    this.hubUnreachable = err instanceof HubClientError && err.kind === "unreachable";
    const link = this.link;
    if (!link) return;
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = message;
    if (err instanceof HubClientError && err.kind === "hub") {
      if (err.code && CUT_OFF_CODES.has(err.code)) {
        if (link.state !== "revoked") this.opts.log(`access revoked by the hub: ${message}`);
        // A revoked key stays revoked (only a revoked instance or a disabled principal can come
        // back), so its instances keep the slow re-check: a mass key revocation is no flood.
        if (err.code !== "key-revoked") this.revokedSeenAt ??= Date.now();
        await this.setState("revoked", message);
        this.failures = 0;
        return;
      }
      if (err.code === "instance-unknown") {
        this.opts.log(`the hub no longer knows this instance (${message}); join again to reconnect`);
        await this.setState("removed", message);
        return;
      }
      if (err.code === "rekey-required") {
        try {
          await this.rekey();
          this.immediate = true;
          return;
        } catch (e) {
          this.lastError = e instanceof Error ? e.message : String(e);
        }
      }
      if (err.code === "replay") {
        // A concurrent request (leave, a previous process) took a later sequence: just retry.
        this.immediate = true;
        return;
      }
    }
    this.failures++;
    this.connection = "unreachable";
    await this.store.updateLink({ lastError: message, lastAttemptAt: Date.now() }).catch(() => {});
  }

  private async setState(state: HubLink["state"], error: string) {
    if (!this.link) return;
    const patch = { state, lastError: error, lastAttemptAt: Date.now() };
    await this.store.updateLink(patch);
    Object.assign(this.link, patch);
    this.connection = state === "joined" ? "connected" : state;
  }

  /** After an admin's "reset identity": new key pair; the hub says whether we keep the instance. */
  private async rekey() {
    const link = this.link!;
    const kp = generateInstanceKeyPair();
    const res = await this.client!.post<unknown>("rekey", { newPublicKey: kp.publicKey, facts: hostFacts() });
    const r = parseHub(RekeyResponseSchema, res.body, "rekey");
    const patch: Partial<HubLink> = { instanceId: r.instanceId, publicKey: kp.publicKey, privateKey: kp.privateKeyPkcs8, identityConflict: false };
    if (!r.keptInstance) Object.assign(patch, { commandCursor: 0, settingsVersion: 0, certificatesHashAcked: null });
    await this.store.updateLink(patch);
    Object.assign(link, patch, await this.store.getLink());
    this.opts.log(r.keptInstance ? `identity re-keyed; still instance ${r.instanceId}` : `identity re-keyed as a new instance ${r.instanceId} (this was a copy)`);
    this.client = new HubClient(this.store, link, this.opts.bootId);
    this.sendFacts = true;
    this.session?.waitAbort?.abort(); // the open wait was signed with the old identity
  }

  private syncCompleted(): Promise<void> {
    return new Promise((r) => this.syncWaiters.push(r));
  }

  // ---- wait loop (push) -------------------------------------------------------------------

  private async waitLoop(session: Session) {
    let failures = 0;
    let webSocketFailures = 0;
    let webSocketRetryAt = 0;
    let webSocketWorked = false;
    const useWebSocket = this.opts.webSocketPush ?? webSocketPushWanted();
    while (session.active) {
      const link = this.link;
      const client = this.client;
      if (!link || !client || link.state !== "joined" || this.connection !== "connected") {
        // Only hold a push channel once a sync has succeeded: the sync loop owns error handling.
        await Promise.race([this.syncCompleted(), Bun.sleep(30_000), session.ended]);
        continue;
      }
      if (useWebSocket && Date.now() >= webSocketRetryAt) {
        const held = await this.holdWebSocket(session, client);
        if (!session.active) break;
        if (held === "refused") {
          // Refused or broken by something on the way (or the hub sheds): the long-poll serves
          // until a fully jittered retry, so a fleet behind one proxy does not retry in step.
          if (webSocketRetryAt === 0) this.opts.log("the push WebSocket could not be opened; using the long-poll (the WebSocket is re-tried now and then)");
          // Where it worked before, the hub was most likely restarting: try again within a minute.
          webSocketRetryAt = Date.now() + (webSocketWorked ? Math.random() * 60_000 : WEBSOCKET_RETRY_MS / 2 + Math.random() * WEBSOCKET_RETRY_MS);
          continue;
        }
        webSocketRetryAt = 0;
        webSocketWorked = true;
        if (held === "long") webSocketFailures = 0;
        else webSocketFailures++;
        // Reconnect with full jitter: a hub restart drops every socket at once.
        const pause = held === "long" ? Math.random() * 5000 : Math.random() * backoff(webSocketFailures) * 2;
        await Promise.race([Bun.sleep(pause), session.ended]);
        continue;
      }
      this.pushChannel = "long-poll";
      const abort = new AbortController();
      session.waitAbort = abort;
      const started = Date.now();
      try {
        const res = await client.post<unknown>(
          "wait",
          { cursor: link.commandCursor, settingsVersion: link.settingsVersion, timeoutSeconds: WAIT_SECONDS },
          { timeoutMs: (WAIT_SECONDS + 15) * 1000, signal: abort.signal },
        );
        failures = 0;
        const nudge = res.status !== 204 && res.body != null && parseHub(WaitResponseSchema, res.body, "wait").nudge;
        if (nudge && session.active) {
          const synced = this.syncCompleted();
          this.syncNow();
          await Promise.race([synced, Bun.sleep(30_000), session.ended]);
        }
      } catch (err) {
        if (!session.active) break;
        if (abort.signal.aborted) continue; // re-keyed: wait again with the new identity
        if (err instanceof HubClientError && (err.status === 503 || err.status === 429)) {
          // The hub is short of connections: stay on the periodic sync, retry the push
          // channel after a fully jittered pause so the fleet does not return in step.
          await Promise.race([Bun.sleep(Math.random() * 60_000), session.ended]);
          continue;
        }
        if (err instanceof HubClientError && err.kind === "hub") {
          // Revoked/removed/rekey: let the sync loop find out and handle it.
          this.syncNow();
          await Promise.race([this.syncCompleted(), Bun.sleep(30_000), session.ended]);
          continue;
        }
        // A proxy or server idle timeout closing a long-held poll is not a failure, but a hub
        // restart drops every poll at once: re-poll after a fully jittered pause (≤ 5 s).
        if (Date.now() - started > 5000) {
          await Promise.race([Bun.sleep(Math.random() * 5000), session.ended]);
          continue;
        }
        failures++;
        // Full jitter: a fleet failing together spreads over the whole backoff window.
        await Promise.race([Bun.sleep(Math.random() * backoff(failures) * 2), session.ended]);
      } finally {
        if (session.waitAbort === abort) session.waitAbort = null;
      }
    }
  }

  /**
   * Holds one WebSocket push channel until it closes. "refused": it never opened, or the hub's
   * first frame never came through (fall back to the long-poll); "long": it was open a while
   * (a restart or idle cut: reconnect soon); "short": it closed soon after opening (count as a
   * failure and back off).
   */
  private holdWebSocket(session: Session, client: HubClient): Promise<"refused" | "long" | "short"> {
    const link = this.link!;
    const sent = { cursor: link.commandCursor, settingsVersion: link.settingsVersion, nudged: false };
    let ws: WebSocket;
    try {
      ws = client.openPush({ cursor: sent.cursor, settingsVersion: sent.settingsVersion });
    } catch {
      return Promise.resolve("refused");
    }
    const abort = new AbortController();
    session.waitAbort = abort;
    return new Promise((resolve) => {
      let openedAt = 0;
      let confirmed = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(openTimer);
        if (session.waitAbort === abort) session.waitAbort = null;
        if (this.pushChannel === "websocket") this.pushChannel = null;
        try {
          ws.close();
        } catch {}
        resolve(!confirmed ? "refused" : Date.now() - openedAt > 5000 ? "long" : "short");
      };
      let openTimer = setTimeout(finish, WEBSOCKET_OPEN_TIMEOUT_MS);
      abort.signal.addEventListener("abort", finish, { once: true }); // re-keyed or detached
      void session.ended.then(finish);
      ws.addEventListener("open", () => {
        openedAt = Date.now();
        clearTimeout(openTimer);
        openTimer = setTimeout(finish, WEBSOCKET_FIRST_FRAME_MS);
      });
      ws.addEventListener("message", (e) => {
        let message: PushMessage | null = null;
        try {
          const parsed = PushMessageSchema.safeParse(JSON.parse(String(e.data)));
          if (parsed.success) message = parsed.data;
        } catch {}
        if (!message) return;
        if (!confirmed) {
          confirmed = true;
          clearTimeout(openTimer);
          this.pushChannel = "websocket";
          void this.reportHasAfterSyncs(session, ws, sent, () => finished);
        }
        if (message.nudge && session.active) {
          sent.nudged = true;
          this.syncNow();
        }
      });
      ws.addEventListener("error", finish);
      ws.addEventListener("close", () => {
        // Closed by the hub after it was open (revoked, removed, reset, restart): sync now and
        // learn why, exactly as a nudge would.
        if (confirmed && session.active) this.syncNow();
        finish();
      });
    });
  }

  /**
   * Tells the hub what this agent has after every sync, so it nudges only for what is new.
   * Closes the socket when syncs fail: the hub may be gone without the socket noticing.
   */
  private async reportHasAfterSyncs(session: Session, ws: WebSocket, sent: { cursor: number; settingsVersion: number; nudged: boolean }, done: () => boolean) {
    while (session.active && !done()) {
      await Promise.race([this.syncCompleted(), session.ended]);
      if (!session.active || done()) return;
      if (this.connection !== "connected" && this.hubUnreachable) {
        ws.close();
        return;
      }
      const link = this.link;
      if (!link) return;
      // After a nudge always: the sync may have started before the nudged change (the hub then
      // nudges again, as a long-poll re-poll would return at once).
      if (link.commandCursor === sent.cursor && link.settingsVersion === sent.settingsVersion && !sent.nudged) continue;
      sent.cursor = link.commandCursor;
      sent.settingsVersion = link.settingsVersion;
      sent.nudged = false;
      try {
        ws.send(JSON.stringify({ cursor: sent.cursor, settingsVersion: sent.settingsVersion }));
      } catch {
        return;
      }
    }
  }
}
