// Simulated agents for the reconnect-storm bench (bench/storm.ts) that follow the real agent's
// rules around a hub restart, not just "reconnect after 0–5 s": each runs a port of the sync
// loop (src/agent/sync/engine.ts: periodic sync at the hub's interval ±10 %, woken by nudges
// and by the push socket closing, full-jitter backoff while the hub is down, the hub's
// Retry-After on 503/429 honoured and never cut short by a nudge) and of the push loop
// (src/agent/sync/push.ts: the WebSocket — after a long-held socket closes, a sync within 0–5 s
// and a reconnect after 0–5 s; where the upgrade fails, the long-poll until a retry within a
// minute; a reconnect that gets no HTTP answer at all (the hub still down) waits for the sync's
// outcome and tries the WebSocket again — or the /wait long-poll with CERTHUB_PUSH=long-poll; a
// push channel is only held once a sync has succeeded). The timings are push.ts's own exports. The jitter and backoff functions are the agent's own
// (session.ts), so a change there changes the bench. Requests are signed like the agent's
// (src/protocol/signing.ts, an increasing sequence per agent) and go out on their own TCP
// connections (bench/storm-wire.ts: fetch would queue thousands of "hosts" behind its pool, and
// it and the WebSocket class cost the bench more CPU than a 2-core machine spares it). Signing
// is the bench's cost, not the hub's: right before the restart `prepare()` signs each agent's
// next syncs, and upgrade/wait signatures are reused for a minute (both well inside the hub's
// 5-minute clock window; the hub ignores their sequence), so the bench keeps up with the storm.
import { afterRetryAfter, backoff, BUSY_DEFAULT_MS, jitter } from "../src/agent/sync/session";
import {
  DROP_JITTER_MS,
  HELD_LONG_MS,
  UNANSWERED_WHILE_SYNCING_MAX,
  WAIT_SECONDS,
  WEBSOCKET_FIRST_FRAME_MS,
  WEBSOCKET_OPEN_TIMEOUT_MS,
  WEBSOCKET_RETRY_MS,
  WEBSOCKET_WORKED_RETRY_MS,
} from "../src/agent/sync/push";
import { isBusyStatus, parseRetryAfter } from "../src/agent/hub-client/retry-after";
import type { UpgradeRefusal } from "../src/agent/hub-client/upgrade-refusal";
import { AGENT_API_PREFIX, PUSH_CLOSE, PushMessageSchema, sha256HexOf, signRequest, signedPath } from "../src/protocol";
import type { WaitAgent } from "./held";
import { webSocketKey, WireConnection } from "./storm-wire";

/** The agent's default request timeout (hub-client post()). */
const SYNC_TIMEOUT_MS = 30_000;

export type StormChannel = "long-poll" | "websocket";

interface Agent {
  w: WaitAgent;
  seq: number;
  // sync loop (engine.ts)
  failures: number;
  syncNotBefore: number;
  immediate: boolean;
  wake: () => void;
  connected: boolean;
  hubUnreachable: boolean;
  waiters: (() => void)[];
  /** performance.now() when the last successful sync was sent. */
  lastSyncOkAt: number;
  // push loop (push.ts)
  holding: boolean;
  channelNow: StormChannel | null;
  waitConn: WireConnection | null;
  /** Sync requests signed ahead (prepare()), with their sequence numbers. */
  presigned: { seq: number; raw: string }[];
  /** Signature headers of the upgrade and of the wait, reused for a minute. */
  signedHeads: Partial<Record<"push" | "wait", { at: number; body: string; text: string }>>;
}

/** How long an upgrade/wait signature is reused (the hub accepts 5 minutes of clock skew). */
const SIGNATURE_REUSE_MS = 60_000;
const SYNCS_SIGNED_AHEAD = 3;

export interface SyncSample {
  /** performance.now() when sent. */
  at: number;
  ms: number;
  /** HTTP status, or 0 when no answer (refused, reset, timed out). */
  status: number;
}

export interface StormFleet {
  readonly holding: number;
  /** Agents holding a push channel whose last successful sync was sent after `t`. */
  ready(t: number): number;
  /** Signs every agent's next syncs now (right before the restart), so the storm is not slowed by the bench's signing. */
  prepare(): void;
  synced(t: number): number;
  onLongPoll(): number;
  readonly syncs: SyncSample[];
  readonly counts: Record<"wsRefused" | "wsUnanswered" | "wsBusy" | "waitErrors" | "waitBusy" | "syncReplay" | "syncUnexpected", number>;
  /** Failed upgrades and waits (a dropped wait included) by what the hub answered ("none": refused, reset or timed out), with when (performance.now()). */
  readonly failures: { at: number; what: string }[];
  stop(): void;
}

/** Signature header lines for `a`'s request (with sequence `seq`). */
function signatureLines(a: Agent, method: "GET" | "POST", endpoint: "sync" | "wait" | "push", body: string, seq: number): string {
  const h = signRequest(a.w.key, { method, path: signedPath(endpoint), instanceId: a.w.id, time: Date.now(), seq, bootId: a.w.bootId, bodySha256: sha256HexOf(body) });
  return Object.entries(h)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
}

/** The raw bytes of a signed agent POST. */
function post(endpoint: "sync" | "wait", body: string, host: string, signature: string): string {
  return `POST ${AGENT_API_PREFIX}/${endpoint} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${signature}\r\n${body}`;
}

/** The upgrade/wait signature of `a`, signed again once a minute old. */
function reusedSignature(a: Agent, endpoint: "push" | "wait", body: string): string {
  const now = Date.now();
  const cached = a.signedHeads[endpoint];
  if (cached && cached.body === body && now - cached.at < SIGNATURE_REUSE_MS) return cached.text;
  const text = signatureLines(a, endpoint === "push" ? "GET" : "POST", endpoint, body, a.seq);
  a.signedHeads[endpoint] = { at: now, body, text };
  return text;
}

export function runStormAgents(opts: {
  port: number;
  agents: WaitAgent[];
  channel: StormChannel;
  /** What each agent holds: its unchanged sync is then a 204. */
  certificatesHash: string;
  syncIntervalSeconds: number;
  /** push.ts's sync after a dropped WebSocket; false only as a control (the storm without it). */
  syncOnDrop: boolean;
  /** Push channels opened at once when the fleet starts (the fleet is already up, not a storm). */
  openConcurrency?: number;
}): StormFleet {
  const host = `127.0.0.1:${opts.port}`;
  let active = true;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const conns = new Set<WireConnection>();
  const syncs: SyncSample[] = [];
  const failuresSeen: { at: number; what: string }[] = [];
  const counts = { wsRefused: 0, wsUnanswered: 0, wsBusy: 0, waitErrors: 0, waitBusy: 0, syncReplay: 0, syncUnexpected: 0 };
  const sleep = (ms: number) =>
    new Promise<void>((ok) => {
      if (!active) return ok();
      const t = setTimeout(() => (timers.delete(t), ok()), ms);
      timers.add(t);
    });
  const agents: Agent[] = opts.agents.map((w) => ({
    w,
    seq: 1,
    failures: 0,
    syncNotBefore: 0,
    immediate: false,
    wake: () => {},
    connected: true, // a fleet in its steady state: joined and synced
    hubUnreachable: false,
    waiters: [],
    lastSyncOkAt: 0,
    holding: false,
    channelNow: null,
    waitConn: null,
    presigned: [],
    signedHeads: {},
  }));
  const syncBody = (a: Agent) => JSON.stringify({ settingsVersion: 1, cursor: a.w.cursor ?? 0, certificatesHash: opts.certificatesHash });

  // ---- sync loop (engine.ts syncLoop / onSyncError) ---------------------------------------
  const syncNow = (a: Agent) => {
    a.immediate = true;
    a.wake();
  };
  const syncCompleted = (a: Agent) => new Promise<void>((ok) => a.waiters.push(ok));
  const sleepUnlessWoken = (a: Agent, ms: number) =>
    a.immediate || !active
      ? Promise.resolve()
      : new Promise<void>((ok) => {
          const done = () => {
            clearTimeout(t);
            timers.delete(t);
            a.wake = () => {};
            ok();
          };
          const t = setTimeout(done, ms);
          timers.add(t);
          a.wake = done;
        });
  const nextDelay = (a: Agent) => (a.failures > 0 ? backoff(a.failures) : jitter(opts.syncIntervalSeconds * 1000));

  async function syncOnce(a: Agent): Promise<void> {
    const body = syncBody(a);
    let raw: string;
    const ahead = a.presigned.shift();
    if (ahead && ahead.seq > a.seq) {
      a.seq = ahead.seq;
      raw = ahead.raw;
    } else {
      a.seq++;
      raw = post("sync", body, host, signatureLines(a, "POST", "sync", body, a.seq));
    }
    const t0 = performance.now();
    const conn = new WireConnection(opts.port);
    const r = await conn.request(raw, SYNC_TIMEOUT_MS);
    conn.close();
    syncs.push({ at: t0, ms: performance.now() - t0, status: r?.status ?? 0 });
    if (!r) {
      a.hubUnreachable = true;
      throw new Error("unreachable");
    }
    a.hubUnreachable = false;
    if (r.status === 204 || r.status === 200) {
      if (r.status === 200) counts.syncUnexpected++; // a steady agent's unchanged sync is a 204
      a.lastSyncOkAt = t0;
      return;
    }
    if (r.status === 409 && r.body.includes('"replay"')) {
      counts.syncReplay++;
      a.immediate = true; // as the agent does: retry at once with a later sequence
      throw Object.assign(new Error("replay"), { replay: true });
    }
    if (isBusyStatus(r.status)) {
      const retryAfterMs = parseRetryAfter(r.headers["retry-after"]);
      // The hub says when to come back: not earlier (a nudge included), and with jitter.
      if (retryAfterMs !== null) a.syncNotBefore = Date.now() + Math.max(backoff(a.failures + 1), afterRetryAfter(retryAfterMs));
    }
    throw new Error(`hub answered ${r.status}`);
  }

  async function syncLoop(a: Agent) {
    // The steady fleet's periodic syncs are spread over the interval (agents started at different times).
    let delay = Math.random() * jitter(opts.syncIntervalSeconds * 1000);
    while (active) {
      await sleepUnlessWoken(a, delay);
      if (!active) break;
      if (Date.now() < a.syncNotBefore) await sleep(a.syncNotBefore - Date.now());
      if (!active) break;
      a.immediate = false;
      try {
        await syncOnce(a);
        a.failures = 0;
        a.syncNotBefore = 0;
        a.connected = true;
      } catch (err) {
        if (!(err as { replay?: boolean }).replay) {
          a.failures++;
          a.connected = false;
        }
      } finally {
        for (const w of a.waiters.splice(0)) w();
      }
      delay = nextDelay(a);
    }
  }

  // ---- push loop (push.ts waitLoop / holdWebSocket) ----------------------------------------
  const syncSoon = (a: Agent) => {
    if (!opts.syncOnDrop) return;
    const t = setTimeout(() => (timers.delete(t), active && syncNow(a)), Math.random() * DROP_JITTER_MS);
    timers.add(t);
  };

  type Held = { held: "unanswered" | "refused" | "long" | "short"; refusal: UpgradeRefusal | null; opened: boolean };
  function holdWebSocket(a: Agent, first: () => void): Promise<Held> {
    const path = `${AGENT_API_PREFIX}/push?cursor=${a.w.cursor ?? 0}&settingsVersion=1`;
    const raw =
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: ${webSocketKey()}\r\n${reusedSignature(a, "push", "")}\r\n`;
    const conn = new WireConnection(opts.port);
    conns.add(conn);
    return new Promise((resolve) => {
      let openedAt = 0;
      let confirmed = false;
      let finished = false;
      let refusal: UpgradeRefusal | null = null;
      /** The connection failed before any HTTP answer (refused, reset), not by a timeout. */
      let unanswered = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        first();
        clearTimeout(openTimer);
        conns.delete(conn);
        if (confirmed) a.holding = false;
        a.channelNow = null;
        conn.close();
        const held = confirmed ? (Date.now() - openedAt > HELD_LONG_MS ? "long" : "short") : unanswered && !refusal && !openedAt ? "unanswered" : "refused";
        resolve({ held, refusal: confirmed ? null : refusal, opened: openedAt > 0 });
      };
      let openTimer = setTimeout(finish, WEBSOCKET_OPEN_TIMEOUT_MS);
      void conn
        .upgrade(
          raw,
          {
            message(text) {
              let nudge = false;
              try {
                const parsed = PushMessageSchema.safeParse(JSON.parse(text));
                if (!parsed.success) return;
                nudge = parsed.data.nudge;
              } catch {
                return;
              }
              if (!confirmed) {
                confirmed = true;
                clearTimeout(openTimer);
                a.holding = true;
                a.channelNow = "websocket";
                first();
              }
              if (nudge && active) syncNow(a);
            },
            close(code) {
              if (process.env.STORM_DEBUG) failuresSeen.push({ at: performance.now(), what: `debug close ${code}` });
              if (confirmed && active) {
                if (code === PUSH_CLOSE.cutOff) syncNow(a);
                else syncSoon(a); // a restart drops every socket at once: sync within 0–5 s
              }
              finish();
            },
          },
          WEBSOCKET_OPEN_TIMEOUT_MS,
        )
        .then((r) => {
          if (r === null) {
            // Switched: the hub's first frame must follow soon (push.ts WEBSOCKET_FIRST_FRAME_MS).
            openedAt = Date.now();
            clearTimeout(openTimer);
            if (!confirmed && !finished) openTimer = setTimeout(finish, WEBSOCKET_FIRST_FRAME_MS);
            return;
          }
          // Refused: what the agent reads from the handshake (upgrade-refusal.ts), status and Retry-After.
          if (r !== "failed") refusal = { status: r.status, retryAfterMs: isBusyStatus(r.status) ? (parseRetryAfter(r.headers["retry-after"]) ?? undefined) : undefined };
          else unanswered = true;
          finish();
        });
    });
  }

  /** One long-poll; "ok" (answered), or what went wrong and how long it was held. */
  async function waitOnce(a: Agent, first: () => void): Promise<{ ok: true; nudge: boolean } | { ok: false; status: number; retryAfterMs: number | null; heldMs: number }> {
    if (!a.waitConn || a.waitConn.closed) a.waitConn = new WireConnection(opts.port);
    const conn = a.waitConn;
    const body = JSON.stringify({ cursor: a.w.cursor ?? 0, settingsVersion: 1, timeoutSeconds: WAIT_SECONDS });
    const started = Date.now();
    const connected = await conn.connected;
    if (connected && active) {
      a.holding = true;
      a.channelNow = "long-poll";
    }
    first();
    const r = connected ? await conn.request(post("wait", body, host, reusedSignature(a, "wait", body)), (WAIT_SECONDS + 15) * 1000) : null;
    a.holding = false;
    a.channelNow = null;
    if (!r || r.headers.connection === "close") conn.close();
    if (r && r.status < 400) return { ok: true, nudge: r.body.includes('"nudge":true') };
    return { ok: false, status: r?.status ?? 0, retryAfterMs: r && isBusyStatus(r.status) ? parseRetryAfter(r.headers["retry-after"]) : null, heldMs: Date.now() - started };
  }

  async function pushLoop(a: Agent, first: () => void) {
    let failures = 0;
    let webSocketFailures = 0;
    let webSocketRetryAt = 0;
    let webSocketWorked = false;
    let unansweredWhileSyncing = 0;
    const pauseAsAsked = (retryAfterMs: number | null) => sleep(afterRetryAfter(retryAfterMs ?? BUSY_DEFAULT_MS));
    while (active) {
      if (!a.connected) {
        // Only hold a push channel once a sync has succeeded: the sync loop owns error handling.
        first();
        await Promise.race([syncCompleted(a), sleep(30_000)]);
        continue;
      }
      if (opts.channel === "websocket" && Date.now() >= webSocketRetryAt) {
        const { held, refusal, opened } = await holdWebSocket(a, first);
        if (!active) break;
        if (refusal && isBusyStatus(refusal.status)) {
          counts.wsBusy++;
          await pauseAsAsked(refusal.retryAfterMs ?? null);
          continue;
        }
        if (held === "unanswered") {
          // As push.ts: the sync's outcome says whether the hub is down (wait for a sync that
          // works, then the WebSocket again) or only the WebSocket fails.
          counts.wsUnanswered++;
          webSocketFailures++;
          await Promise.race([syncCompleted(a), sleep(DROP_JITTER_MS + backoff(webSocketFailures))]);
          unansweredWhileSyncing = a.connected ? unansweredWhileSyncing + 1 : 0;
          if (unansweredWhileSyncing < UNANSWERED_WHILE_SYNCING_MAX) continue;
        }
        unansweredWhileSyncing = 0;
        if (held === "refused" || held === "unanswered") {
          counts.wsRefused++;
          failuresSeen.push({ at: performance.now(), what: `upgrade ${refusal?.status ?? (opened ? "opened, no first frame" : "none")}` });
          webSocketRetryAt = Date.now() + (webSocketWorked ? Math.random() * WEBSOCKET_WORKED_RETRY_MS : WEBSOCKET_RETRY_MS / 2 + Math.random() * WEBSOCKET_RETRY_MS);
          continue;
        }
        webSocketRetryAt = 0;
        webSocketWorked = true;
        if (held === "long") webSocketFailures = 0;
        else webSocketFailures++;
        await sleep(held === "long" ? Math.random() * DROP_JITTER_MS : backoff(webSocketFailures));
        continue;
      }
      const r = await waitOnce(a, first);
      if (!active) break;
      if (r.ok) {
        failures = 0;
        if (r.nudge) {
          const synced = syncCompleted(a);
          syncNow(a);
          await Promise.race([synced, sleep(30_000)]);
        }
        continue;
      }
      counts.waitErrors++;
      failuresSeen.push({ at: performance.now(), what: `wait ${r.status || "none"}` });
      if (isBusyStatus(r.status)) {
        counts.waitBusy++;
        await pauseAsAsked(r.retryAfterMs);
        continue;
      }
      if (r.status >= 400) {
        syncNow(a);
        await Promise.race([syncCompleted(a), sleep(30_000)]);
        continue;
      }
      // Held a while: a restart or an idle cut, re-poll after 0–5 s (no sync: push.ts syncs
      // after a dropped WebSocket only). Otherwise a failure: full-jitter backoff.
      if (r.heldMs > HELD_LONG_MS) {
        await sleep(Math.random() * DROP_JITTER_MS);
        continue;
      }
      failures++;
      await sleep(backoff(failures));
    }
  }

  // Start: sync loops at once (spread over the interval), push channels `openConcurrency` at a time.
  for (const a of agents) void syncLoop(a);
  void (async () => {
    const queue = [...agents];
    const opener = async () => {
      for (let a = queue.shift(); a && active; a = queue.shift()) {
        await new Promise<void>((first) => {
          let called = false;
          void pushLoop(a, () => {
            if (!called) (called = true), first();
          });
        });
      }
    };
    await Promise.all(Array.from({ length: opts.openConcurrency ?? 256 }, opener));
  })();

  return {
    get holding() {
      return agents.reduce((n, a) => n + (a.holding ? 1 : 0), 0);
    },
    prepare() {
      for (const a of agents) {
        const body = syncBody(a);
        a.presigned = Array.from({ length: SYNCS_SIGNED_AHEAD }, (_, i) => ({ seq: a.seq + 1 + i, raw: post("sync", body, host, signatureLines(a, "POST", "sync", body, a.seq + 1 + i)) }));
        reusedSignature(a, "push", "");
        reusedSignature(a, "wait", JSON.stringify({ cursor: a.w.cursor ?? 0, settingsVersion: 1, timeoutSeconds: WAIT_SECONDS }));
      }
    },
    ready: (t) => agents.reduce((n, a) => n + (a.holding && a.lastSyncOkAt > t ? 1 : 0), 0),
    synced: (t) => agents.reduce((n, a) => n + (a.lastSyncOkAt > t ? 1 : 0), 0),
    onLongPoll: () => agents.reduce((n, a) => n + (a.channelNow === "long-poll" ? 1 : 0), 0),
    syncs,
    counts,
    failures: failuresSeen,
    stop() {
      active = false;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const c of conns) c.close();
      conns.clear();
      for (const a of agents) a.waitConn?.close();
      for (const a of agents) a.wake();
    },
  };
}
