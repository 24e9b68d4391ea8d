// The agent's push channel (src/agent/sync/): a WebSocket the hub nudges as soon as something
// is queued (push, < 2 s); where a proxy breaks upgrades, the long-poll (/wait) instead, with
// the WebSocket re-tried now and then. Either way a nudge only triggers a sync: the push
// channel carries no data.
import { PUSH_CLOSE, PushMessageSchema, type PushMessage, WaitResponseSchema } from "../../protocol";
import { HubClient, HubClientError, isBusyStatus, watchUpgradeRefusal, type UpgradeRefusal } from "../hub-client";
import type { SyncEngine } from "./engine";
import { afterRetryAfter, backoff, BUSY_DEFAULT_MS, busyNotice, parseHub, type Session } from "./session";

// Under the 60 s idle timeout common to reverse proxies and load balancers; a proxy that cuts
// sooner just makes the agent re-poll (see waitLoop).
// (Exported for bench/storm-agents.ts, whose simulated agents follow these rules.)
export const WAIT_SECONDS = 50;
/** After the WebSocket failed to open, the long-poll serves this long (jittered) before a retry. */
export const WEBSOCKET_RETRY_MS = 10 * 60_000;
/** Where the WebSocket worked before (a hub restarting), a failed upgrade is retried within this. */
export const WEBSOCKET_WORKED_RETRY_MS = 60_000;
export const WEBSOCKET_OPEN_TIMEOUT_MS = 10_000;
/** The hub answers on open at once; silence means something in between broke the upgrade. */
export const WEBSOCKET_FIRST_FRAME_MS = 2_000;
/** A socket (or wait) held longer than this ended "long" (a restart, an idle cut), not as a failure. */
export const HELD_LONG_MS = 5000;
/** The fully jittered pause before a sync and a reconnect after a dropped socket (a restart drops all at once). */
export const DROP_JITTER_MS = 5000;
/**
 * WebSocket connections that got no answer at all, in a row while syncs worked, before the
 * long-poll takes over: a hub that is down refuses the long-poll just the same (so the agent
 * keeps trying the WebSocket), but a proxy that resets upgrades lets syncs through.
 */
export const UNANSWERED_WHILE_SYNCING_MAX = 3;

/** CERTHUB_PUSH=long-poll keeps an agent on the long-poll (e.g. behind a proxy known to break upgrades). */
export function webSocketPushWanted(env: Record<string, string | undefined> = process.env): boolean {
  return env.CERTHUB_PUSH !== "long-poll";
}

export async function waitLoop(engine: SyncEngine, session: Session) {
  let failures = 0;
  let webSocketFailures = 0;
  let webSocketRetryAt = 0;
  let webSocketWorked = false;
  let unansweredWhileSyncing = 0;
  const useWebSocket = engine.opts.webSocketPush ?? webSocketPushWanted();
  const busy = busyNotice(engine.opts.log, "push channel");
  /**
   * The hub (or a proxy before it) answered 503/429: the other channel would get the same
   * answer, so the push channel waits as long as asked plus jitter; the periodic sync goes on.
   */
  const pauseAsAsked = async (status: number, retryAfterMs: number | undefined) => {
    const pause = afterRetryAfter(retryAfterMs ?? BUSY_DEFAULT_MS);
    busy.say(status, retryAfterMs, pause, `; syncing every ${engine.link?.syncIntervalSeconds ?? 60} s meanwhile`);
    await Promise.race([Bun.sleep(pause), session.ended]);
  };
  while (session.active) {
    const link = engine.link;
    const client = engine.client;
    if (!link || !client || link.state !== "joined" || engine.connection !== "connected") {
      // Only hold a push channel once a sync has succeeded: the sync loop owns error handling.
      await Promise.race([engine.syncCompleted(), Bun.sleep(30_000), session.ended]);
      continue;
    }
    if (useWebSocket && Date.now() >= webSocketRetryAt) {
      const { held, refusal } = await holdWebSocket(engine, session, client);
      if (!session.active) break;
      if (refusal && isBusyStatus(refusal.status)) {
        await pauseAsAsked(refusal.status, refusal.retryAfterMs);
        continue;
      }
      if (held === "unanswered") {
        // Nothing answered (a hub restarting drops every socket, then refuses connections for
        // a moment). The sync after a dropped socket comes within 5 s: its outcome says whether
        // the hub is down (then the loop's top waits for a sync that works, and the WebSocket
        // is tried again) or only the WebSocket fails (counted towards the long-poll).
        webSocketFailures++;
        await Promise.race([engine.syncCompleted(), Bun.sleep(DROP_JITTER_MS + backoff(webSocketFailures)), session.ended]);
        unansweredWhileSyncing = engine.connection === "connected" && !engine.hubUnreachable ? unansweredWhileSyncing + 1 : 0;
        if (unansweredWhileSyncing < UNANSWERED_WHILE_SYNCING_MAX) continue;
      }
      unansweredWhileSyncing = 0;
      if (held === "refused" || held === "unanswered") {
        // Refused or broken by something on the way (not "busy": that is handled above): the
        // long-poll serves until a fully jittered retry, so a fleet behind one proxy does not
        // retry in step.
        if (webSocketRetryAt === 0) engine.opts.log("the push WebSocket could not be opened; using the long-poll (the WebSocket is re-tried now and then)");
        // Where it worked before, the hub was most likely restarting: try again within a minute.
        webSocketRetryAt = Date.now() + (webSocketWorked ? Math.random() * WEBSOCKET_WORKED_RETRY_MS : WEBSOCKET_RETRY_MS / 2 + Math.random() * WEBSOCKET_RETRY_MS);
        continue;
      }
      webSocketRetryAt = 0;
      webSocketWorked = true;
      busy.clear();
      if (held === "long") webSocketFailures = 0;
      else webSocketFailures++;
      // Reconnect with full jitter: a hub restart drops every socket at once.
      const pause = held === "long" ? Math.random() * DROP_JITTER_MS : backoff(webSocketFailures);
      await Promise.race([Bun.sleep(pause), session.ended]);
      continue;
    }
    engine.pushChannel = "long-poll";
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
      busy.clear();
      const nudge = res.status !== 204 && res.body != null && parseHub(WaitResponseSchema, res.body, "wait").nudge;
      if (nudge && session.active) {
        const synced = engine.syncCompleted();
        engine.syncNow();
        await Promise.race([synced, Bun.sleep(30_000), session.ended]);
      }
    } catch (err) {
      if (!session.active) break;
      if (abort.signal.aborted) continue; // re-keyed: wait again with the new identity
      if (err instanceof HubClientError && isBusyStatus(err.status)) {
        await pauseAsAsked(err.status!, err.retryAfterMs);
        continue;
      }
      if (err instanceof HubClientError && err.kind === "hub") {
        // Revoked/removed/rekey: let the sync loop find out and handle it.
        engine.syncNow();
        await Promise.race([engine.syncCompleted(), Bun.sleep(30_000), session.ended]);
        continue;
      }
      // A proxy or server idle timeout closing a long-held poll is not a failure, but a hub
      // restart drops every poll at once: re-poll after a fully jittered pause (≤ 5 s).
      if (Date.now() - started > HELD_LONG_MS) {
        await Promise.race([Bun.sleep(Math.random() * DROP_JITTER_MS), session.ended]);
        continue;
      }
      failures++;
      // Full jitter: a fleet failing together spreads over the whole backoff window.
      await Promise.race([Bun.sleep(backoff(failures)), session.ended]);
    } finally {
      if (session.waitAbort === abort) session.waitAbort = null;
    }
  }
}

type Held = { held: "unanswered" | "refused" | "long" | "short"; refusal: UpgradeRefusal | null };

/**
 * Holds one WebSocket push channel until it closes. "unanswered": the connection failed with
 * no HTTP answer at all (refused or reset: the hub may be restarting); "refused": it never
 * opened, or the hub's first frame never came through (fall back to the long-poll; `refusal`
 * says what the hub answered instead of 101, when it did); "long": it was open a while (a
 * restart or idle cut: reconnect soon); "short": it closed soon after opening (count as a
 * failure and back off).
 */
function holdWebSocket(engine: SyncEngine, session: Session, client: HubClient): Promise<Held> {
  const link = engine.link!;
  const sent = { cursor: link.commandCursor, settingsVersion: link.settingsVersion, nudged: false };
  let ws: WebSocket;
  try {
    ws = client.openPush({ cursor: sent.cursor, settingsVersion: sent.settingsVersion });
  } catch {
    return Promise.resolve({ held: "refused", refusal: null });
  }
  const refusal = watchUpgradeRefusal(ws);
  const abort = new AbortController();
  session.waitAbort = abort;
  return new Promise((resolve) => {
    let openedAt = 0;
    let confirmed = false;
    let finished = false;
    let failedUnanswered = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(openTimer);
      if (session.waitAbort === abort) session.waitAbort = null;
      if (engine.pushChannel === "websocket") engine.pushChannel = null;
      try {
        ws.close();
      } catch {}
      const refused = confirmed ? null : refusal();
      resolve({ held: confirmed ? (Date.now() - openedAt > HELD_LONG_MS ? "long" : "short") : failedUnanswered && !refused ? "unanswered" : "refused", refusal: refused });
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
        engine.pushChannel = "websocket";
        void reportHasAfterSyncs(engine, session, ws, sent, () => finished);
      }
      if (message.nudge && session.active) {
        sent.nudged = true;
        engine.syncNow();
      }
    });
    ws.addEventListener("error", () => {
      // Before any open or upgrade answer (watchUpgradeRefusal reads that): no HTTP answer at all.
      if (!openedAt) failedUnanswered = true;
      finish();
    });
    ws.addEventListener("close", (e: CloseEvent) => {
      // Cut off by the hub (revoked, removed, reset): sync now and learn why, as a nudge would.
      // Any other close (a restart drops every socket at once; shedding) syncs after a fully
      // jittered pause instead, like the reconnect: the hub nudges on reconnect if anything
      // waits, so the whole fleet need not sync in the same second.
      if (confirmed && session.active) {
        if (e.code === PUSH_CLOSE.cutOff) engine.syncNow();
        else syncSoon(engine, session);
      }
      finish();
    });
  });
}

/** A sync within the next 5 s (full jitter), unless the session ends first. */
function syncSoon(engine: SyncEngine, session: Session) {
  const timer = setTimeout(() => session.active && engine.syncNow(), Math.random() * DROP_JITTER_MS);
  void session.ended.then(() => clearTimeout(timer));
}

/**
 * Tells the hub what this agent has after every sync, so it nudges only for what is new.
 * Closes the socket when syncs fail: the hub may be gone without the socket noticing.
 */
async function reportHasAfterSyncs(engine: SyncEngine, session: Session, ws: WebSocket, sent: { cursor: number; settingsVersion: number; nudged: boolean }, done: () => boolean) {
  while (session.active && !done()) {
    await Promise.race([engine.syncCompleted(), session.ended]);
    if (!session.active || done()) return;
    if (engine.connection !== "connected" && engine.hubUnreachable) {
      ws.close();
      return;
    }
    const link = engine.link;
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
