// The hub's HTTP application: assembled once from its parts.
import { describeStorageError } from "../db/storage-errors";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { agentApi } from "./agent-api";
import { adminApi } from "./api";
import type { HubDeps, HubEnv } from "./context";
import { requestGuards } from "./middleware/request-guards";
import { requestMetrics } from "./middleware/request-metrics";
import { securityHeaders } from "./middleware/security-headers";
import { staticRoutes } from "./static";
import { adminPages } from "./ui/pages";
import { loginPages } from "./ui/pages/login";
import { notFoundPage } from "./ui/pages/not-found";

export function createApp(deps: HubDeps) {
  const app = new Hono<HubEnv>();
  app.use("*", async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use("*", requestMetrics);
  app.use("*", securityHeaders);
  app.use("*", requestGuards);

  app.get("/healthz", (c) => c.text("ok"));
  app.get("/metrics", async (c) => c.body(await deps.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }));
  app.route("/static", staticRoutes);
  // Browsers ask for it on every page, signed in or not; a 404 there is a console error per visit.
  app.get("/favicon.ico", (c) => c.body(null, 204, { "Cache-Control": "public, max-age=86400" }));
  app.route("/api/agent/v1", agentApi());
  app.route("/api/v1", adminApi);
  app.all("/api/*", (c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.route("/", loginPages());
  app.route("/", adminPages);

  app.notFound((c) => (c.req.path.startsWith("/api/") ? c.json({ error: "not found" }, 404) : notFoundPage(c)));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const status = err.status;
      return c.req.path.startsWith("/api/") ? c.json({ error: err.message || "request rejected" }, status) : c.text(err.message, status);
    }
    const storage = describeStorageError(err);
    if (storage) {
      console.error(`certhub: ${c.req.method} ${c.req.path} failed: ${storage}`);
      return c.req.path.startsWith("/api/") ? c.json({ error: storage }, 503) : c.text(storage, 503);
    }
    console.error(`certhub: ${c.req.method} ${c.req.path} failed:`, err);
    return c.req.path.startsWith("/api/") ? c.json({ error: "internal error" }, 500) : c.text("Internal error", 500);
  });
  return app;
}
