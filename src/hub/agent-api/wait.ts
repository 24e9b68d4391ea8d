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
import { shouldWake } from "../fleet/waiting";
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
  const server = bunServer(c);
  // The server closes connections idle longer than IDLE_TIMEOUT_SECONDS; this one may idle
  // for the whole wait. Set back afterwards: the allowance lasts past the response otherwise.
  try {
    server?.timeout?.(c.req.raw, seconds + 10);
  } catch {}

  const ready = () => {
    const inst = fleet.peekInstance(id);
    if (!inst) return true; // removed, or reloaded after a change: let the agent sync
    return shouldWake(inst, { cursor, settingsVersion }, inst.joiningKeyId ? fleet.peekKeyState(inst.joiningKeyId) : undefined);
  };
  const nudge = await fleet.waitFor(id, ready, seconds * 1000, c.req.raw.signal);
  try {
    server?.timeout?.(c.req.raw, IDLE_TIMEOUT_SECONDS + 5);
  } catch {}
  return c.json({ nudge } satisfies WaitResponse);
}
