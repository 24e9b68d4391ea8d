// Transport behaviour Pebble cannot be made to show: a CA answering 429/503 with Retry-After.
// A tiny local "CA" stands in for the rate limiter only; JWS and nonces are real.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AcmeProblem, ensureAccount } from "../../../src/agent/acme";
import { alternateLinks } from "../../../src/agent/acme/chains";
import { parseRetryAfter } from "../../../src/agent/acme/client";

let limited: { retryAfter: string; remaining: number } = { retryAfter: "1", remaining: 0 };
let server: ReturnType<typeof Bun.serve>;
let newAccountPosts = 0;

beforeAll(() => {
  let n = 0;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      const base = `http://127.0.0.1:${server.port}`;
      const nonce = { "replay-nonce": `nonce${++n}` };
      if (url.pathname === "/dir") return Response.json({ newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` });
      if (url.pathname === "/nonce") return new Response(null, { headers: nonce });
      if (url.pathname === "/acct") {
        newAccountPosts++;
        if (limited.remaining-- > 0)
          return Response.json({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new registrations from this IP", status: 429 },
            { status: 429, headers: { ...nonce, "retry-after": limited.retryAfter, "content-type": "application/problem+json" } });
        return Response.json({ status: "valid" }, { status: 201, headers: { ...nonce, location: `${base}/acct/1` } });
      }
      return new Response("not found", { status: 404 });
    },
  });
});
afterAll(() => server.stop(true));

describe("Retry-After on 429/503", () => {
  test("a short Retry-After is waited out and the request succeeds", async () => {
    limited = { retryAfter: "1", remaining: 1 };
    newAccountPosts = 0;
    const t0 = performance.now();
    const acct = await ensureAccount({ directoryUrl: `http://127.0.0.1:${server.port}/dir` });
    expect(acct.accountUrl).toEndWith("/acct/1");
    expect(newAccountPosts).toBe(2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
  });

  test("a long Retry-After is not slept through: AcmeProblem with the CA's words and retryAfterMs for the scheduler", async () => {
    limited = { retryAfter: "3600", remaining: 1 };
    const t0 = performance.now();
    const err = await ensureAccount({ directoryUrl: `http://127.0.0.1:${server.port}/dir` }).catch((e) => e);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(AcmeProblem);
    expect(err.is("rateLimited")).toBe(true);
    expect(err.message).toBe("too many new registrations from this IP");
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(3_600_000);
  });

  test("Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});

describe("Link rel=alternate", () => {
  test("finds alternates among other links, resolving relative URLs", () => {
    const h = new Headers();
    h.append("link", '<https://ca.test/dir>;rel="index"');
    h.append("link", '<https://ca.test/cert/1/1>;rel="alternate"');
    h.append("link", "</cert/1/2>; rel=alternate");
    expect(alternateLinks(h, "https://ca.test/cert/1")).toEqual(["https://ca.test/cert/1/1", "https://ca.test/cert/1/2"]);
  });
});
