// Simulated agents for the reconnect-storm bench (bench/storm.ts) that follow the real agent's
// rules around a hub restart, not just "reconnect after 0–5 s": each runs a port of the sync
// loop (src/agent/sync/engine.ts: periodic sync at the hub's interval ±10 %, woken by nudges
// and by the push socket closing, full-jitter backoff while the hub is down, the hub's
// Retry-After on 503/429 honoured and never cut short by a nudge) and of the push loop
// (src/agent/sync/push.ts: the WebSocket — after a long-held socket closes, a sync within 0–5 s
// and a reconnect after 0–5 s; where the upgrade fails, the long-poll until a retry within a
// minute — or the /wait long-poll with CERTHUB_PUSH=long-poll; a push channel is only held
// once a sync has succeeded). The jitter and backoff functions are the agent's own
// (session.ts), so a change there changes the bench. Requests are signed like the agent's
// (src/protocol/signing.ts, an increasing sequence per agent) and go out on their own TCP
// connections (raw sockets: fetch would queue thousands of "hosts" behind its pool).
import { afterRetryAfter, backoff, BUSY_DEFAULT_MS, jitter } from "../src/agent/sync/session";
import { isBusyStatus, parseRetryAfter } from "../src/agent/hub-client/retry-after";
import { watchUpgradeRefusal, type UpgradeRefusal } from "../src/agent/hub-client/upgrade-refusal";
import { AGENT_API_PREFIX, PUSH_CLOSE, PushMessageSchema, sha256HexOf, signRequest, signedPath } from "../src/protocol";
import { RawConnection, type RawResponse, type WaitAgent } from "./held";

// push.ts keeps these private; the same values, named as there.
/** WAIT_SECONDS: the long-poll's timeout. */
const WAIT_SECONDS = 50;
/** WEBSOCKET_OPEN_TIMEOUT_MS / WEBSOCKET_FIRST_FRAME_MS. */
const WEBSOCKET_OPEN_TIMEOUT_MS = 10_000;
const WEBSOCKET_FIRST_FRAME_MS = 2_000;
/** The fully jittered pause of syncSoon() and of the reconnect after a long-held socket/wait. */
const DROP_JITTER_MS = 5000;
/** A socket or wait held longer than this closed "long" (a restart), not as a failure. */
const HELD_LONG_MS = 5000;
/** Where the WebSocket worked before, a failed upgrade is retried within this (jittered). */
const WEBSOCKET_WORKED_RETRY_MS = 60_000;
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
  waitConn: RawConnection | null;
}

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
  synced(t: number): number;
  onLongPoll(): number;
  readonly syncs: SyncSample[];
  readonly counts: Record<"wsRefused" | "wsBusy" | "waitErrors" | "waitBusy" | "syncReplay" | "syncUnexpected", number>;
  /** Failed upgrades and waits (a dropped wait included) by what the hub answered ("none": refused, reset or timed out), with when (performance.now()). */
  readonly failures: { at: number; what: string }[];
  stop(): void;
}

/** The raw bytes of a signed agent POST, with the agent's current sequence number. */
function signedPost(a: Agent, endpoint: "sync" | "wait", body: string, host: string): string {
  const h = signRequest(a.w.key, { method: "POST", path: signedPath(endpoint), instanceId: a.w.id, time: Date.now(), seq: a.seq, bootId: a.w.bootId, bodySha256: sha256HexOf(body) });
  const lines = [`POST ${AGENT_API_PREFIX}/${endpoint} HTTP/1.1`, `Host: ${host}`, "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`];
  for (const [k, v] of Object.entries(h)) lines.push(`${k}: ${v}`);
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

/** Sends `raw` on `conn` (connecting first); null when refused, reset or timed out. */
async function exchange(conn: RawConnection, raw: string, timeoutMs: number): Promise<RawResponse | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<null>((ok) => (timer = setTimeout(() => (conn.close(), ok(null)), timeoutMs)));
  try {
    return await Promise.race([conn.connected.then((ok) => (ok ? conn.send(raw) : null)), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export function runStormAgents(opts: {
  port: number;
  agents: WaitAgent[];
  channel: StormChannel;
  /** What each agent holds: its unchanged sync is then a 204. */
  certificatesHash: string;
  syncIntervalSeconds: number;
  /** Push channels opened at once when the fleet starts (the fleet is already up, not a storm). */
  openConcurrency?: number;
}): StormFleet {
  const host = `127.0.0.1:${opts.port}`;
  let active = true;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sockets = new Set<WebSocket>();
  const syncs: SyncSample[] = [];
  const failuresSeen: { at: number; what: string }[] = [];
  const counts = { wsRefused: 0, wsBusy: 0, waitErrors: 0, waitBusy: 0, syncReplay: 0, syncUnexpected: 0 };
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
  }));

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
    a.seq++;
    const body = JSON.stringify({ settingsVersion: 1, cursor: a.w.cursor ?? 0, certificatesHash: opts.certificatesHash });
    const t0 = performance.now();
    const conn = new RawConnection(opts.port);
    const r = await exchange(conn, signedPost(a, "sync", body, host), SYNC_TIMEOUT_MS);
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
    const t = setTimeout(() => (timers.delete(t), active && syncNow(a)), Math.random() * DROP_JITTER_MS);
    timers.add(t);
  };

  type Held = { held: "refused" | "long" | "short"; refusal: UpgradeRefusal | null; opened: boolean };
  function holdWebSocket(a: Agent, first: () => void): Promise<Held> {
    const path = signedPath("push");
    const headers = signRequest(a.w.key, { method: "GET", path, instanceId: a.w.id, time: Date.now(), seq: a.seq, bootId: a.w.bootId, bodySha256: sha256HexOf("") });
    const ws = new WebSocket(`ws://${host}${path}?cursor=${a.w.cursor ?? 0}&settingsVersion=1`, { headers, perMessageDeflate: false } as unknown as string[]);
    sockets.add(ws);
    const refusal = watchUpgradeRefusal(ws);
    return new Promise((resolve) => {
      let openedAt = 0;
      let confirmed = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        first();
        clearTimeout(openTimer);
        sockets.delete(ws);
        if (confirmed) a.holding = false;
        a.channelNow = null;
        try {
          ws.close();
        } catch {}
        resolve({ held: !confirmed ? "refused" : Date.now() - openedAt > HELD_LONG_MS ? "long" : "short", refusal: confirmed ? null : refusal(), opened: openedAt > 0 });
      };
      let openTimer = setTimeout(finish, WEBSOCKET_OPEN_TIMEOUT_MS);
      ws.addEventListener("open", () => {
        openedAt = Date.now();
        clearTimeout(openTimer);
        openTimer = setTimeout(finish, WEBSOCKET_FIRST_FRAME_MS);
      });
      ws.addEventListener("message", (e) => {
        let nudge = false;
        try {
          const parsed = PushMessageSchema.safeParse(JSON.parse(String(e.data)));
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
      });
      ws.addEventListener("error", finish);
      ws.addEventListener("close", (e: CloseEvent) => {
        if (process.env.STORM_DEBUG) failuresSeen.push({ at: performance.now(), what: `debug close ${e.code}` });
        if (confirmed && active) {
          if (e.code === PUSH_CLOSE.cutOff) syncNow(a);
          else syncSoon(a); // a restart drops every socket at once: sync within 0–5 s
        }
        finish();
      });
    });
  }

  /** One long-poll; "ok" (answered), or what went wrong and how long it was held. */
  async function waitOnce(a: Agent, first: () => void): Promise<{ ok: true; nudge: boolean } | { ok: false; status: number; retryAfterMs: number | null; heldMs: number }> {
    if (!a.waitConn || a.waitConn.closed) a.waitConn = new RawConnection(opts.port);
    const conn = a.waitConn;
    const body = JSON.stringify({ cursor: a.w.cursor ?? 0, settingsVersion: 1, timeoutSeconds: WAIT_SECONDS });
    const started = Date.now();
    const connected = await conn.connected;
    if (connected && active) {
      a.holding = true;
      a.channelNow = "long-poll";
    }
    first();
    const r = connected ? await exchange(conn, signedPost(a, "wait", body, host), (WAIT_SECONDS + 15) * 1000) : null;
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
        if (held === "refused") {
          counts.wsRefused++;
          failuresSeen.push({ at: performance.now(), what: `upgrade ${refusal?.status ?? (opened ? "opened, no first frame" : "none")}` });
          webSocketRetryAt = Date.now() + (webSocketWorked ? Math.random() * WEBSOCKET_WORKED_RETRY_MS : 5 * 60_000 + Math.random() * 10 * 60_000);
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
      for (const ws of sockets) ws.close();
      sockets.clear();
      for (const a of agents) a.waitConn?.close();
      for (const a of agents) a.wake();
    },
  };
}
