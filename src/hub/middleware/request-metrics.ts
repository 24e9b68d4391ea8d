import { createMiddleware } from "hono/factory";
import type { HubEnv } from "../context";

/** Counts requests and records latency per route pattern (not per URL, to bound label cardinality). */
export const requestMetrics = createMiddleware<HubEnv>(async (c, next) => {
  const start = performance.now();
  await next();
  const { metrics } = c.get("deps");
  const labels = { method: c.req.method, route: c.req.routePath || "unmatched", status: String(c.res.status) };
  metrics.counter("certhub_http_requests_total", "HTTP requests handled by the hub").inc(labels);
  metrics
    .histogram("certhub_http_request_duration_seconds", "HTTP request latency")
    .observe({ method: labels.method, route: labels.route }, (performance.now() - start) / 1000);
});
