// GET /api/agent/v1/push — the WebSocket push channel (protocol/push.ts). Cheaper to hold than
// the /wait long-poll: no re-request every 50 s, and ~3.8 KiB of hub RSS per held agent at 10k
// (the runtime's own socket ~2 KiB, the instance's cache entry ~0.4 KiB) instead of ~12 KiB
// (a pending request, its timer and the re-polls' garbage); only the runtime's pings flow
// while nothing happens. The long-poll stays as the fallback for proxies that break upgrades.
// Same admission as /wait: a signed upgrade (sequence ignored, as it carries no data), at most
// MAX_WAITERS_PER_INSTANCE push connections per identity, waits and sockets together (a socket
// replaces the identity's oldest wait; beyond two sockets: 429), 503 + Retry-After while
// descriptors run short.
import type { ServerWebSocket, WebSocketHandler } from "bun";
import { PUSH_CLOSE, PushHasSchema, PushQuerySchema, type PushHas, type PushMessage } from "../../protocol";
import type { FleetService } from "../fleet";
import { shouldWake, whatIsWaiting } from "../fleet/waiting";
import { bunServer, fail, type Ctx } from "./util";
import { authenticate, refuse, shortOfConnections } from "./verify";

/** The runtime pings a silent socket shortly before this and closes it without a pong. */
export const PUSH_IDLE_SECONDS = 56;
const NUDGE = JSON.stringify({ nudge: true } satisfies PushMessage);
const HELLO = JSON.stringify({ nudge: false } satisfies PushMessage);

/**
 * What the hub keeps per open socket beside the runtime's own: one small object (the socket
 * itself is the subscriber in the notifier, so there are no per-socket closures).
 */
export interface PushSocketData {
  instanceId: string;
  /** What the agent holds (from the upgrade query, then from each of its messages). */
  cursor: number;
  settingsVersion: number;
  /** Registered with the notifier and not closed yet. */
  open: boolean;
}

type PushSocket = ServerWebSocket<PushSocketData>;

interface Upgrader {
  upgrade(req: Request, opts: { data: PushSocketData }): boolean;
}

export async function handlePush(c: Ctx) {
  const { fleet } = c.get("deps");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    return fail(c, 426, "this endpoint is a WebSocket: send an Upgrade request (or use POST /wait)", "bad-request", { Upgrade: "websocket" });
  }
  const authed = await authenticate(c, { sequence: "ignore", endpoint: "push" });
  if (!authed.ok) return authed.response;
  if (authed.auth.raw.length) return fail(c, 400, "the upgrade request has no body", "bad-request");
  const query = PushQuerySchema.safeParse(c.req.query());
  if (!query.success) return fail(c, 400, "invalid request: cursor and settingsVersion (counters) are required in the query", "bad-request");
  if (fleet.push.shedding) return refuse(c, shortOfConnections("push channel"));
  const id = authed.auth.inst.id;
  if (!fleet.push.admits(id)) {
    return fail(c, 429, "this instance already holds its push connections", "rate-limited", { "Retry-After": "60" });
  }
  const server = bunServer(c) as (Upgrader & object) | null;
  if (!server || typeof server.upgrade !== "function") return fail(c, 501, "this hub is not serving WebSockets");
  const data: PushSocketData = { instanceId: id, cursor: query.data.cursor, settingsVersion: query.data.settingsVersion, open: false };
  if (!server.upgrade(c.req.raw, { data })) {
    return fail(c, 400, "WebSocket upgrade failed", "bad-request");
  }
  return new Response(null); // ignored by the runtime once upgraded
}

/** The Bun.serve `websocket` handlers (server.ts). */
export function pushSocketHandlers(fleet: FleetService): WebSocketHandler<PushSocketData> {
  // Decides with the same rules as /sync and /wait (fleet/waiting.ts). Loads what a change
  // evicted from the cache, so a revocation is seen here and not only at the next request.
  async function check(ws: PushSocket, first: boolean) {
    const { instanceId } = ws.data;
    const inst = fleet.peekInstance(instanceId) ?? (await fleet.getInstance(instanceId));
    if (!ws.data.open) return; // closed meanwhile
    if (!inst) return ws.close(PUSH_CLOSE.cutOff, "removed");
    let keyState = inst.joiningKeyId ? fleet.peekKeyState(inst.joiningKeyId) : undefined;
    if (inst.joiningKeyId && keyState === undefined) keyState = (await fleet.keyInfo(inst.joiningKeyId))?.state;
    if (!ws.data.open) return;
    const has = { cursor: ws.data.cursor, settingsVersion: ws.data.settingsVersion };
    const w = whatIsWaiting(inst, has, keyState);
    if (w.cutOff || w.rekey) return ws.close(PUSH_CLOSE.cutOff, w.cutOff ? "revoked" : "reset");
    if (shouldWake(inst, has, keyState)) ws.send(NUDGE);
    else if (first) ws.send(HELLO);
  }
  const checkSafely = (ws: PushSocket, first = false) =>
    check(ws, first).catch(() => {
      // The database is unreachable: the agent's periodic sync reports it; reconnect later.
      if (ws.data.open) ws.close(PUSH_CLOSE.released, "hub error");
    });
  fleet.push.setSocketHooks({
    nudge: (ws) => void checkSafely(ws as PushSocket),
    release: (ws) => (ws as PushSocket).close(PUSH_CLOSE.released, "released"),
  });
  return {
    idleTimeout: PUSH_IDLE_SECONDS,
    sendPings: true,
    maxPayloadLength: 1024,
    perMessageDeflate: false,
    open(ws) {
      // Re-checked here: two upgrades of one identity may have passed the cap together.
      if (!fleet.push.subscribe(ws.data.instanceId, ws)) return ws.close(PUSH_CLOSE.released, "too many push connections");
      ws.data.open = true;
      void checkSafely(ws, true);
    },
    message(ws, message) {
      let has: PushHas | null = null;
      if (typeof message === "string") {
        try {
          const parsed = PushHasSchema.safeParse(JSON.parse(message));
          if (parsed.success) has = parsed.data;
        } catch {}
      }
      if (!has) return ws.close(PUSH_CLOSE.badMessage, "expected {cursor, settingsVersion}");
      ws.data.cursor = has.cursor;
      ws.data.settingsVersion = has.settingsVersion;
      void checkSafely(ws);
    },
    close(ws) {
      if (!ws.data.open) return;
      ws.data.open = false;
      fleet.push.unsubscribe(ws.data.instanceId, ws);
    },
  };
}
