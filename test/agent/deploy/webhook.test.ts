// Webhook tasks against a real HTTP server on 127.0.0.1: the JSON event a receiver gets, an
// HMAC-SHA256 signature it can verify with the shared secret, retries, timeouts, non-2xx and
// redirects reported as failures.
import { afterAll, describe, expect, test } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import { runDeployments } from "../../../src/agent/deploy";
import { context, issue, makeCa } from "./fixtures";

const ca = makeCa();
const cert = issue(ca, { serialHex: "00c0ffee", domains: ["hook.example.test", "*.hook.example.test"], name: "hook" });
const SECRET = "whsec-Δ-shared-secret";

interface Received {
  path: string;
  body: string;
  headers: Headers;
}
const received: Received[] = [];
let failuresLeft = 0;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const body = await req.text();
    received.push({ path: url.pathname, body, headers: req.headers });
    if (url.pathname === "/flaky" && failuresLeft-- > 0) return new Response("try later", { status: 503 });
    if (url.pathname === "/slow") await Bun.sleep(3000);
    if (url.pathname === "/redirect") return new Response(null, { status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } });
    if (url.pathname === "/error") return new Response("receiver says no", { status: 400 });
    return new Response("ok");
  },
});
afterAll(() => server.stop(true));
const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

/** What a receiver does: recompute the HMAC over the raw body and compare in constant time. */
function verify(r: Received, secret: string): boolean {
  const header = r.headers.get("x-certhub-signature") ?? "";
  const expected = Buffer.from("sha256=" + createHmac("sha256", secret).update(r.body).digest("hex"));
  return header.length === expected.length && timingSafeEqual(Buffer.from(header), expected);
}

describe("webhook task", () => {
  test("POSTs the event JSON with a verifiable X-Certhub-Signature keyed by the stored token", async () => {
    received.length = 0;
    const ctx = context({ instanceId: "inst-42", credentials: new Map([["wh", { id: "wh", type: "api-token", secret: { token: SECRET } }]]) });
    const before = Date.now();
    const [r] = await runDeployments([{ type: "webhook", url: url("/hook?tenant=a"), secretCredentialId: "wh", trigger: "success" }], cert, "success", ctx);
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(r.lastResult.message).toBe(`POST http://127.0.0.1:${server.port}/hook → 200`);
    expect(received).toHaveLength(1);
    const got = received[0];
    expect(got.headers.get("content-type")).toBe("application/json");
    expect(verify(got, SECRET)).toBe(true);
    expect(verify(got, "another secret")).toBe(false);
    const event = JSON.parse(got.body);
    expect(event).toEqual({
      event: "certificate.renewed",
      certificateId: cert.id,
      name: "hook",
      instanceId: "inst-42",
      domains: ["hook.example.test", "*.hook.example.test"],
      serial: "00c0ffee",
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      outcome: "success",
      at: expect.any(Number),
    });
    expect(event.at).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(r) + ctx.lines.join("\n")).not.toContain(SECRET);
  });

  test("a password credential signs too; without a credential there is no signature header", async () => {
    received.length = 0;
    const ctx = context({ credentials: new Map([["pw", { id: "pw", type: "password", secret: { password: "pw-secret" } }]]) });
    await runDeployments([{ type: "webhook", url: url("/a"), secretCredentialId: "pw", trigger: "success" }, { type: "webhook", url: url("/b"), trigger: "success" }], cert, "success", ctx);
    expect(received).toHaveLength(2);
    expect(verify(received[0], "pw-secret")).toBe(true);
    expect(received[1].headers.get("x-certhub-signature")).toBeNull();
  });

  test("on failure with no certificate yet, the event says so (serial null) and the task still runs", async () => {
    received.length = 0;
    const [r] = await runDeployments([{ type: "webhook", url: url("/fail"), trigger: "failure" }], null, "failure", context());
    expect(r.lastResult.outcome).toBe("succeeded");
    const event = JSON.parse(received[0].body);
    expect(event.event).toBe("certificate.failed");
    expect(event.outcome).toBe("failure");
    expect(event.serial).toBeNull();
  });

  test("retries after a 503 until the receiver accepts", async () => {
    received.length = 0;
    failuresLeft = 2;
    const [r] = await runDeployments([{ type: "webhook", url: url("/flaky"), retries: 3, retryDelaySeconds: 0, trigger: "success" }], cert, "success", context());
    expect(r.lastResult.outcome).toBe("succeeded");
    expect(received.filter((x) => x.path === "/flaky")).toHaveLength(3);
  });

  test("non-2xx, redirects and timeouts fail with what happened; retries are counted", async () => {
    received.length = 0;
    const [bad] = await runDeployments([{ type: "webhook", url: url("/error"), retries: 1, retryDelaySeconds: 0, trigger: "success" }], cert, "success", context());
    expect(bad.lastResult.outcome).toBe("failed");
    expect(bad.lastResult.message).toContain("→ 400: receiver says no (attempt 2 of 2)");
    expect(received.filter((x) => x.path === "/error")).toHaveLength(2);

    const [redir] = await runDeployments([{ type: "webhook", url: url("/redirect"), trigger: "success" }], cert, "success", context());
    expect(redir.lastResult.outcome).toBe("failed");
    expect(redir.lastResult.message).toContain("302 (redirect to http://127.0.0.1:1/elsewhere not followed)");

    const t0 = Date.now();
    const [slow] = await runDeployments([{ type: "webhook", url: url("/slow"), timeoutSeconds: 1, trigger: "success" }], cert, "success", context());
    expect(slow.lastResult.outcome).toBe("failed");
    expect(slow.lastResult.message).toContain("no answer within 1s");
    expect(Date.now() - t0).toBeLessThan(2500);

    const [refused] = await runDeployments([{ type: "webhook", url: `http://127.0.0.1:1/x`, trigger: "success" }], cert, "success", context());
    expect(refused.lastResult.outcome).toBe("failed");
    expect(refused.lastResult.message).toMatch(/^POST http:\/\/127\.0\.0\.1:1\/x failed: /);
  }, 15_000);

  test("a missing secret credential fails the task without sending anything", async () => {
    received.length = 0;
    const [r] = await runDeployments([{ type: "webhook", url: url("/x"), secretCredentialId: "nope", trigger: "success" }], cert, "success", context());
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("stored credential nope");
    expect(received).toHaveLength(0);
  });
});
