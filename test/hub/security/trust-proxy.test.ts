// Security review #5: behind a reverse proxy every request comes from the proxy's address.
//  - --trust-proxy / CERTHUB_TRUST_PROXY: X-Forwarded-For is believed only from a trusted peer,
//    and only up to the rightmost hop that is not itself a trusted proxy;
//  - the per-address limit does not lock out a user's right password after other users' failures
//    from that address (before the fix: 20 failures of anyone locked every admin out).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolveHubConfig, parseTrustProxy } from "../../../src/hub/config";
import { forwardedClient, trustedMatcher } from "../../../src/hub/middleware/client-ip";
import { createHub } from "../../../src/hub/server";
import { PER_ADDRESS_FAILURES, PER_USER_FAILURES } from "../../../src/hub/security/sign-in-limits";
import { ADMIN_PASSWORD, tempDir } from "../../helpers";
import { login, signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";

function loginVia(url: string, forwardedFor: string, username: string, password: string) {
  return fetch(`${url}/login`, {
    method: "POST",
    body: new URLSearchParams({ username, password }),
    headers: { "x-forwarded-for": forwardedFor },
    redirect: "manual",
  });
}

/** A hub that trusts the loopback peer as its reverse proxy. */
async function startProxiedHub(trust: string) {
  const previous = process.env.CERTHUB_ADMIN_PASSWORD;
  process.env.CERTHUB_ADMIN_PASSWORD = ADMIN_PASSWORD;
  try {
    return await createHub(resolveHubConfig({ "data-dir": tempDir("certhub-proxy-"), listen: "127.0.0.1:0", http: true, "trust-proxy": trust }));
  } finally {
    if (previous === undefined) delete process.env.CERTHUB_ADMIN_PASSWORD;
    else process.env.CERTHUB_ADMIN_PASSWORD = previous;
  }
}

describe("X-Forwarded-For parsing", () => {
  const trusted = trustedMatcher(parseTrustProxy("10.0.0.0/8, 127.0.0.1, fd00::/8"));

  test("only a trusted peer's header counts, and only its rightmost untrusted hop", () => {
    expect(forwardedClient("203.0.113.9", "198.51.100.1", trusted)).toBe("203.0.113.9"); // untrusted peer: header ignored
    expect(forwardedClient("127.0.0.1", "198.51.100.1", trusted)).toBe("198.51.100.1");
    // The client prepended a fake hop; the proxy appended the real one.
    expect(forwardedClient("127.0.0.1", "6.6.6.6, 198.51.100.1", trusted)).toBe("198.51.100.1");
    // Two proxies in a row: skip the inner trusted one.
    expect(forwardedClient("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", trusted)).toBe("198.51.100.1");
    expect(forwardedClient("::ffff:127.0.0.1", "[2001:db8::7]:4711", trusted)).toBe("2001:db8::7");
    expect(forwardedClient("fd00::1", "198.51.100.1:5555", trusted)).toBe("198.51.100.1");
    expect(forwardedClient("127.0.0.1", "10.0.0.5", trusted)).toBe("10.0.0.5"); // all trusted: leftmost seen
    expect(forwardedClient("127.0.0.1", "", trusted)).toBe("127.0.0.1");
    // Garbage from the proxy: stop at the last address that can be believed, never the garbage.
    expect(forwardedClient("127.0.0.1", "evil\r\nX: y", trusted)).toBe("127.0.0.1");
    expect(forwardedClient("127.0.0.1", "6.6.6.6, not-an-ip, 10.0.0.9", trusted)).toBe("10.0.0.9");
  });

  test("--trust-proxy takes addresses and CIDRs and refuses anything else", () => {
    expect(parseTrustProxy(" 127.0.0.1 , 10.0.0.0/8,::1")).toEqual(["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
    expect(parseTrustProxy("")).toEqual([]);
    expect(() => parseTrustProxy("10.0.0.0/33")).toThrow(/invalid --trust-proxy/);
    expect(() => parseTrustProxy("proxy.example")).toThrow(/invalid --trust-proxy/);
    expect(resolveHubConfig({}, { CERTHUB_TRUST_PROXY: "192.0.2.0/24" }).trustProxy).toEqual(["192.0.2.0/24"]);
    expect(resolveHubConfig({ "trust-proxy": "::1" }, { CERTHUB_TRUST_PROXY: "192.0.2.0/24" }).trustProxy).toEqual(["::1/128"]);
    expect(resolveHubConfig({}, {}).trustProxy).toEqual([]);
  });
});

describe("a hub behind a trusted proxy", () => {
  let hub: Awaited<ReturnType<typeof startProxiedHub>>;
  let admin: Session;
  beforeAll(async () => {
    hub = await startProxiedHub("127.0.0.1");
    admin = await signIn(hub.url);
    for (const u of ["alice", "bob"]) {
      const res = await admin.json("/api/v1/principals", "POST", { type: "user", username: u, password: `${u}-password-123`, roles: ["readonly"] });
      expect(res.status).toBe(201);
    }
  });
  afterAll(() => hub.stop());

  test("limits and the audit log use the forwarded client, so one client's failures lock only that client", async () => {
    for (let i = 0; i < PER_USER_FAILURES; i++) expect((await loginVia(hub.url, "198.51.100.7", "alice", `nope-${i}`)).status).toBe(401);
    expect((await loginVia(hub.url, "198.51.100.7", "alice", "alice-password-123")).status).toBe(429);
    // The same user from another client behind the same proxy is not locked.
    expect((await loginVia(hub.url, "198.51.100.8", "alice", "alice-password-123")).status).toBe(303);
    const audit = (await (await admin.fetch("/api/v1/audit?q=login.failure")).json()) as { actorLabel: string; ip: string }[];
    expect(audit.filter((e) => e.actorLabel === "alice").map((e) => e.ip)).toContain("198.51.100.7");
    // A spoofed hop left of the proxy's own entry changes nothing.
    expect((await loginVia(hub.url, "203.0.113.1, 198.51.100.7", "alice", "alice-password-123")).status).toBe(429);
  }, 60_000);

  test("many users failing from one address do not lock out a user who has not failed", async () => {
    // Spraying from one client: past the per-address limit, across many usernames.
    const sprayed = await Promise.all(
      Array.from({ length: PER_ADDRESS_FAILURES + 5 }, (_, i) => loginVia(hub.url, "192.0.2.50", `sprayed-${i}`, "Password1")),
    );
    expect(sprayed.every((r) => r.status === 401)).toBe(true);
    // bob, from that same address, with his right password: signed in (was 429 before the fix).
    expect((await loginVia(hub.url, "192.0.2.50", "bob", "bob-password-123")).status).toBe(303);
    // But the address is now under pressure: one wrong try locks a user from there.
    expect((await loginVia(hub.url, "192.0.2.50", "alice", "wrong-once")).status).toBe(401);
    expect((await loginVia(hub.url, "192.0.2.50", "alice", "alice-password-123")).status).toBe(429);
  }, 120_000);
});

describe("without --trust-proxy", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.stop());

  test("X-Forwarded-For is ignored: rotating it does not escape the lock", async () => {
    for (let i = 0; i < PER_USER_FAILURES; i++) expect((await loginVia(hub.url, `198.51.100.${i + 1}`, "admin", `nope-${i}`)).status).toBe(401);
    expect((await loginVia(hub.url, "198.51.100.99", "admin", ADMIN_PASSWORD)).status).toBe(429);
    expect((await login(hub.url, "admin", ADMIN_PASSWORD)).status).toBe(429);
  }, 60_000);
});
