// POST /api/agent/v1/wait — the push channel. The agent keeps one long-poll open; it returns
// {nudge:true} the moment anything is waiting for the agent (a command, new settings, a
// reset, a revocation), and {nudge:false} after the timeout, when the agent simply re-polls.
// It carries no data, so it does not take part in the sequence rules: a wait may overlap a
// sync. Replaying one reveals nothing.
// Only an authenticated wait may hold its connection past the server's short idle timeout;
// while descriptors run short (server.ts) new waits are refused with 503 + Retry-After and the
// agent falls back to its periodic sync until then. One identity holds at most two push
// connections, waits and WebSockets together (fleet/notifier.ts).
import { WaitRequestSchema, type WaitResponse } from "../../protocol";
import { IDLE_TIMEOUT_SECONDS } from "../descriptors";
import type { FleetService } from "../fleet";
import { shouldWake, type AgentHas } from "../fleet/waiting";
import { deferJson } from "./deferred";
import { bunServer, fail, readJson, type Ctx } from "./util";
import { authenticate } from "./verify";

const DEFAULT_WAIT_SECONDS = 25;

export async function handleWait(c: Ctx) {
  const { fleet } = c.get("deps");
  const authed = await authenticate(c, { sequence: "ignore", endpoint: "wait" });
  if (!authed.ok) return authed.response;
  const body = await readJson(c, WaitRequestSchema, authed.auth.raw);
  if (!body.ok) return body.response;
  if (fleet.push.shedding) {
    // Spread the retries: a fleet refused together must not come back together.
    const retryAfter = String(15 + Math.floor(Math.random() * 45));
    return fail(c, 503, "the hub is short of connections; keep syncing and retry the wait later", "rate-limited", { "Retry-After": retryAfter, Connection: "close" });
  }
  const { cursor, settingsVersion } = body.value;
  const id = authed.auth.inst.id;
  // One cap for waits and sockets together (fleet/notifier.ts): a new wait replaces the
  // identity's oldest wait, but never one of its WebSockets.
  if (!fleet.push.admits(id)) {
    return fail(c, 429, "this instance already holds its push connections", "rate-limited", { "Retry-After": "60" });
  }
  const seconds = Math.min(body.value.timeoutSeconds ?? DEFAULT_WAIT_SECONDS, 55);
  return deferJson(c.req.raw, holdWait(fleet, id, { cursor, settingsVersion }, seconds, c.req.raw, bunServer(c)));
}

/**
 * The held part of a wait, outside the request's middleware chain (deferred.ts). A plain
 * function on purpose: closures made inside the async handler would keep its whole scope
 * (the request context, the parsed body, the authentication) alive for the entire wait.
 */
function holdWait(fleet: FleetService, id: string, has: AgentHas, seconds: number, req: Request, server: ReturnType<typeof bunServer>): Promise<WaitResponse> {
  // The server closes connections idle longer than IDLE_TIMEOUT_SECONDS; this one may idle
  // for the whole wait. Set back afterwards: the allowance lasts past the response otherwise.
  try {
    server?.timeout?.(req, seconds + 10);
  } catch {}
  const ready = () => {
    const inst = fleet.peekInstance(id);
    if (!inst) return true; // removed, or reloaded after a change: let the agent sync
    return shouldWake(inst, has, inst.joiningKeyId ? fleet.peekKeyState(inst.joiningKeyId) : undefined);
  };
  return fleet.waitFor(id, ready, seconds * 1000, req.signal).then((nudge) => {
    try {
      server?.timeout?.(req, IDLE_TIMEOUT_SECONDS + 5);
    } catch {}
    return { nudge };
  });
}
