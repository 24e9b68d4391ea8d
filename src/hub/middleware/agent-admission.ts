// Admits agent API requests a slice per event-loop turn, so a burst of them cannot hold the
// loop. Why: when a hub restarts under a large fleet, thousands of agents reconnect within
// seconds. Bun handles every request that is ready in one loop turn before it accepts again,
// and an agent request costs ~0.3–1 ms of CPU (Ed25519 verify, JSON, zod), so a turn of a
// thousand requests took the better part of a second; meanwhile the listen queue (512 in
// Bun, not configurable) overflowed, the kernel dropped SYNs, and everyone whose SYN was
// dropped — /healthz, an admin's page, agents — waited for TCP's retransmit: 1 s, then 3 s,
// then 7 s (measured: /healthz up to 2.2–4.4 s during a 5,000-agent storm; see bench/storm.ts).
// With at most AGENT_REQUESTS_PER_TURN agent requests per turn the loop comes back to accept
// and to the cheap requests every few milliseconds; agents wait their turn in order, and the
// fleet's throughput is the same.
import type { MiddlewareHandler } from "hono";

/** About 10–30 ms of work per turn on a small machine. */
export const AGENT_REQUESTS_PER_TURN = 32;

let admitted = 0;
let turnPending = false;
const queue: (() => void)[] = [];

/** The number of agent requests waiting for a turn (for metrics and tests). */
export function agentRequestsQueued(): number {
  return queue.length;
}

/** Resolves when this agent request may proceed (at once while the turn has room). */
export function admitAgentRequest(): Promise<void> | void {
  scheduleTurn();
  if (queue.length === 0 && admitted < AGENT_REQUESTS_PER_TURN) {
    admitted++;
    return;
  }
  return new Promise<void>((resolve) => queue.push(resolve));
}

function scheduleTurn() {
  if (turnPending) return;
  turnPending = true;
  // setImmediate runs after the loop has polled I/O again: accepts, /healthz and pages first.
  setImmediate(nextTurn);
}

function nextTurn() {
  turnPending = false;
  const batch = queue.splice(0, AGENT_REQUESTS_PER_TURN);
  admitted = batch.length;
  for (const resolve of batch) resolve();
  if (queue.length > 0 || admitted > 0) scheduleTurn();
}

/** The middleware for the agent API: a slice of agent requests per event-loop turn. */
export const agentAdmission: MiddlewareHandler = async (_c, next) => {
  await admitAgentRequest();
  await next();
};
