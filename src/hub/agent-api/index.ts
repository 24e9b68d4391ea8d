// The agent-facing API, mounted by the hub at /api/agent/v1. Agents connect outbound only.
// Every body is size-limited before it is read and validated with zod; anything the caller
// got wrong is a JSON 4xx, never a 5xx. Wire types live in src/protocol.
import { describeStorageError } from "../../db/storage-errors";
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { BODY_LIMITS } from "../../protocol";
import { agentAdmission } from "../middleware/agent-admission";
import type { HubEnv } from "../context";
import { createJoinLimiters, handleJoin } from "./join";
import { handleLeave } from "./leave";
import { handleRekey } from "./rekey";
import { handleSync } from "./sync";
import { fail } from "./util";
import { handlePush } from "./push";
import { handleWait } from "./wait";
import { refuse, shortOfConnections } from "./verify";

const limit = (maxSize: number): MiddlewareHandler<HubEnv> =>
  bodyLimit({ maxSize, onError: (c) => c.json({ error: `request body exceeds ${maxSize} bytes`, code: "bad-request" }, 413) });

/** Counts requests and times them per endpoint and status class. */
const instrument =
  (endpoint: string): MiddlewareHandler<HubEnv> =>
  async (c, next) => {
    const started = performance.now();
    await next();
    const m = c.get("deps").metrics;
    m.counter("certhub_agent_requests_total", "Agent API requests").inc({ endpoint, status: String(c.res.status) });
    if (endpoint !== "wait" && endpoint !== "push") {
      m.histogram("certhub_agent_request_seconds", "Agent API request duration").observe({ endpoint }, (performance.now() - started) / 1000);
    }
  };

const refuseWhileShedding: MiddlewareHandler<HubEnv> = async (c, next) => {
  const deps = c.get("deps");
  if (!deps.fleet.push.shedding) return next();
  const endpoint = c.req.path.endsWith("/push") ? "push" : "wait";
  const res = refuse(c, shortOfConnections(endpoint === "push" ? "push channel" : "wait"));
  deps.metrics.counter("certhub_agent_requests_total", "Agent API requests").inc({ endpoint, status: String(res.status) });
  return res;
};

export function agentApi(): Hono<HubEnv> {
  const app = new Hono<HubEnv>();
  const joinLimiters = createJoinLimiters();
  // While descriptors run short, push requests are refused before they queue (verify.ts,
  // shortOfConnections); then a slice of agent requests per event-loop turn, so a reconnect
  // storm cannot starve accept.
  app.on(["GET", "POST"], ["/wait", "/push"], refuseWhileShedding);
  app.use("*", agentAdmission);

  app.post("/join", instrument("join"), limit(BODY_LIMITS.join), (c) => handleJoin(c, joinLimiters));
  app.post("/sync", instrument("sync"), limit(BODY_LIMITS.sync), handleSync);
  app.post("/wait", instrument("wait"), limit(BODY_LIMITS.small), handleWait);
  app.get("/push", instrument("push"), handlePush);
  app.post("/rekey", instrument("rekey"), limit(BODY_LIMITS.small), handleRekey);
  app.post("/leave", instrument("leave"), limit(BODY_LIMITS.small), handleLeave);

  app.notFound((c) => fail(c, 404, `no such agent API endpoint: ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    // Malformed input is rejected before it gets here; what remains is a hub fault.
    const storage = describeStorageError(err);
    if (storage) return c.json({ error: storage }, 503);
    console.error(`agent API ${c.req.method} ${c.req.path}: ${err instanceof Error ? err.stack : err}`);
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
