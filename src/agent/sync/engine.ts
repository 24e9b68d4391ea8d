// The agent's connection to its hub: two loops per joined identity.
// - sync loop (here): periodic sync (hub-chosen interval, ±10 % jitter), immediately when
//   nudged, when results are waiting or when the hub has more to send; on failures it backs off
//   exponentially with jitter so a restarted hub is not stampeded by its whole fleet.
// - push loop (push.ts): a WebSocket, or the long-poll where a proxy breaks upgrades; a nudge
//   only triggers a sync.
// A sync that changes nothing costs one small signed request and a 204 (exchange.ts).
// The fields the exchange and push modules share are not private; only this folder uses them.
import type { InstanceConfig } from "../../protocol/certificates";
import { CUT_OFF_CODES } from "../../protocol";
import type { CommandExecutor } from "../commands";
import type { AgentStore, CertificateReports, HubLink } from "../db/store";
import { HubClient, HubClientError, isBusyStatus } from "../hub-client";
import { rekey, syncOnce } from "./exchange";
import { waitLoop } from "./push";
import { afterRetryAfter, backoff, busyNotice, jitter, newSession, type Session } from "./session";

export type Connection = "connecting" | "connected" | "unreachable" | "revoked" | "removed";

const REVOKED_RECHECK_MS = 5 * 60_000;
// Right after a revocation an admin may reinstate (a mistake, a key swap): ask every few
// seconds for a while so "reinstated" takes effect at once, then fall back to the slow pace.
const REVOKED_FAST_RECHECK_MS = 5_000;
const REVOKED_FAST_WINDOW_MS = 15 * 60_000;

export interface SyncHooks {
  /** The certificate, account and external-manager reports to send (when their hash changes). */
  reports?: () => Promise<CertificateReports>;
  /** A validated InstanceConfig arrived (already stored). */
  onConfig?: (config: InstanceConfig) => Promise<void>;
}

export class SyncEngine {
  link: HubLink | null = null;
  client: HubClient | null = null;
  session: Session | null = null;
  private loops: Promise<void>[] = [];
  private immediate = false;
  sendFacts = true;
  needCertificates = false;
  private failures = 0;
  /** No sync before this (the hub's Retry-After on a 503/429 to /sync); nudges do not override it. */
  private syncNotBefore = 0;
  private syncBusy = busyNotice((m) => this.opts.log(m), "sync");
  /** When this process first saw the revocation (the fast re-check window starts there). */
  revokedSeenAt: number | null = null;
  private syncWaiters: (() => void)[] = [];
  /** The last sync failed because the hub could not be reached. */
  hubUnreachable = false;
  connection: Connection = "connecting";
  /** The push channel in use: "websocket", "long-poll", or null while none is held. */
  pushChannel: "websocket" | "long-poll" | null = null;
  lastError: string | null = null;
  lastSyncAt: number | null = null;

  constructor(
    readonly store: AgentStore,
    readonly executor: CommandExecutor,
    readonly opts: { bootId: string; log: (msg: string) => void; allowScripts?: boolean; webSocketPush?: boolean } & SyncHooks,
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
    this.loops = [this.syncLoop(session), waitLoop(this, session)];
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
      // A nudge or the push channel closing wakes the loop early; what the hub asked still holds.
      if (Date.now() < this.syncNotBefore) await Promise.race([Bun.sleep(this.syncNotBefore - Date.now()), session.ended]);
      if (!session.active) break;
      if (this.link?.state === "removed") {
        this.immediate = false;
        await this.sleep(session, 3600_000); // nothing to do until someone joins again
        continue;
      }
      this.immediate = false;
      try {
        const more = await syncOnce(this, session);
        this.failures = 0;
        this.syncNotBefore = 0;
        this.syncBusy.clear();
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

  private async onSyncError(err: unknown) {
    // Only a hub out of reach says the push socket may be dead (a half-open connection).
    this.hubUnreachable = err instanceof HubClientError && err.kind === "unreachable";
    const link = this.link;
    if (!link) return;
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = message;
    if (err instanceof HubClientError && err.kind === "hub" && isBusyStatus(err.status) && err.retryAfterMs !== undefined) {
      // The hub says when to come back: not earlier (a nudge included), and with jitter.
      const pause = Math.max(backoff(this.failures + 1), afterRetryAfter(err.retryAfterMs));
      this.syncNotBefore = Date.now() + pause;
      this.syncBusy.say(err.status!, err.retryAfterMs, pause, "");
    }
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
          await rekey(this);
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

  /** Resolves after the next sync attempt (the push channel waits on it). */
  syncCompleted(): Promise<void> {
    return new Promise((r) => this.syncWaiters.push(r));
  }
}
