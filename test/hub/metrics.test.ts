// /healthz and /metrics in Prometheus text format.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { login, startTestHub, type TestHub } from "../helpers/session";

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.stop());

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

test("/healthz answers 200 without authentication", async () => {
  const res = await fetch(`${hub.url}/healthz`);
  expect(res.status).toBe(200);
});

test("/metrics counts requests, latency, sign-in failures and tokens", async () => {
  const before = await (await fetch(`${hub.url}/metrics`)).text();
  expect(sample(before, "certhub_signin_failures_total")).toBe(0);
  expect(sample(before, "certhub_api_tokens", { role: "managed-instance", status: "active" })).toBe(1);

  for (let i = 0; i < 3; i++) await fetch(`${hub.url}/healthz`);
  await login(hub.url, "admin", "wrong-password");
  const res = await fetch(`${hub.url}/metrics`);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const text = await res.text();
  expect(text).toContain("# TYPE certhub_http_requests_total counter");
  expect(text).toContain("# TYPE certhub_http_request_duration_seconds histogram");
  expect(sample(text, "certhub_http_requests_total", { route: "/healthz", status: "200" })).toBeGreaterThanOrEqual(3);
  expect(sample(text, "certhub_http_request_duration_seconds_count", { route: "/healthz" })).toBeGreaterThanOrEqual(3);
  expect(sample(text, "certhub_signin_failures_total", { reason: "bad-credentials" })).toBe(1);
  expect(text).toContain("certhub_instances");
});
