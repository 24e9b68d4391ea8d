// RFC 2136 + TSIG against a real BIND (named) with a key made by tsig-keygen at test time; dig
// is the independent oracle for what the zone holds.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { preflight } from "../../../src/agent/acme";
import { findZone, resolverFor, parseServer } from "../../../src/agent/acme/challenges/dns";
import { updateTxt } from "../../../src/agent/acme/challenges/rfc2136";
import type { CredentialForAgent } from "../../../src/protocol/certificates";
import { startBind, type Bind } from "../../helpers/acme-peers";

let bind: Bind;
beforeAll(async () => {
  bind = await startBind({ zone: "example.test", records: ["*.h IN A 127.0.0.1", "deep.sub IN A 127.0.0.1"], algorithms: ["hmac-sha512", "hmac-sha384", "hmac-md5"] });
});
afterAll(async () => {
  await bind?.stop();
});

function dig(name: string, type = "TXT"): string[] {
  const { host, port } = parseServer(bind.server);
  const r = Bun.spawnSync(["dig", `@${host}`, "-p", String(port), "+short", type, name], { stdout: "pipe" });
  return r.stdout.toString().trim().split("\n").filter(Boolean).map((l) => l.replace(/^"|"$/g, ""));
}

const ctx = (secret?: string) => ({
  credentials: new Map<string, CredentialForAgent>([["tsig1", { id: "tsig1", type: "tsig", secret: { name: bind.tsig.name, algorithm: "hmac-sha256", secret: secret ?? bind.tsig.secret } }]]),
  allowScripts: false,
  log: () => {},
});

describe("RFC 2136 update with TSIG against BIND", () => {
  test("adds a TXT value, keeps a second value beside it, deletes only its own (class NONE)", async () => {
    const server = parseServer(bind.server);
    const fqdn = "_acme-challenge.both.example.test.";
    const key = bind.tsig;
    await updateTxt({ server, zone: "example.test", fqdn, value: "value-apex", op: "add", key });
    await updateTxt({ server, zone: "example.test", fqdn, value: "value-wildcard", op: "add", key });
    expect(dig(fqdn).sort()).toEqual(["value-apex", "value-wildcard"]);
    await updateTxt({ server, zone: "example.test", fqdn, value: "value-apex", op: "delete", key });
    expect(dig(fqdn)).toEqual(["value-wildcard"]);
    await updateTxt({ server, zone: "example.test", fqdn, value: "value-wildcard", op: "delete", key });
    expect(dig(fqdn)).toEqual([]);
  });

  test("other TSIG algorithms BIND offers work too: hmac-sha512, hmac-sha384, hmac-md5 (BIND's old default)", async () => {
    const server = parseServer(bind.server);
    for (const alg of ["hmac-sha512", "hmac-sha384", "hmac-md5"]) {
      const key = bind.keys[alg];
      const fqdn = `_acme-challenge.${alg}.example.test.`;
      await updateTxt({ server, zone: "example.test", fqdn, value: `by-${alg}`, op: "add", key });
      expect(dig(fqdn)).toEqual([`by-${alg}`]);
      await updateTxt({ server, zone: "example.test", fqdn, value: `by-${alg}`, op: "delete", key });
      expect(dig(fqdn)).toEqual([]);
    }
  });

  test("a wrong secret is refused by BIND and the error names the TSIG problem", async () => {
    const wrong = Buffer.alloc(32, 7).toString("base64");
    const err = await updateTxt({ server: parseServer(bind.server), zone: "example.test", fqdn: "_acme-challenge.x.example.test.", value: "v", op: "add", key: { ...bind.tsig, secret: wrong } }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/NOTAUTH|BADSIG/);
    expect(dig("_acme-challenge.x.example.test.")).toEqual([]);
  });

  test("a name outside the zone is refused (NOTZONE) rather than silently ignored", async () => {
    const err = await updateTxt({ server: parseServer(bind.server), zone: "example.test", fqdn: "_acme-challenge.other.test.", value: "v", op: "add", key: bind.tsig }).catch((e) => e);
    expect(err.message).toMatch(/NOTZONE/);
  });

  test("zone discovery walks up to the apex through the server's SOA answers", async () => {
    const r = resolverFor(parseServer(bind.server));
    expect(await findZone(r, "_acme-challenge.a.deep.sub.example.test.")).toBe("example.test");
    expect(await findZone(r, "_acme-challenge.example.test")).toBe("example.test");
  });

  test("preflight: the update succeeds, the TXT becomes visible, and it is removed again", async () => {
    const steps = await preflight({ domains: ["p1.example.test", "*.p1.example.test"], challenge: { type: "dns-01", provider: "rfc2136", server: bind.server, credentialId: "tsig1" }, ctx: ctx() });
    expect(steps.map((s) => [s.domain, s.outcome])).toEqual([["p1.example.test", "ok"], ["*.p1.example.test", "ok"]]);
    expect(dig("_acme-challenge.p1.example.test.")).toEqual([]);
  });

  test("preflight reports a wrong TSIG secret and a missing credential per domain", async () => {
    const bad = await preflight({ domains: ["p2.example.test"], challenge: { type: "dns-01", provider: "rfc2136", server: bind.server, credentialId: "tsig1" }, ctx: ctx(Buffer.alloc(32, 1).toString("base64")) });
    expect(bad[0].outcome).toBe("failed");
    expect(bad[0].message).toMatch(/BADSIG|NOTAUTH/);
    const missing = await preflight({ domains: ["p2.example.test"], challenge: { type: "dns-01", provider: "rfc2136", server: bind.server, credentialId: "gone" }, ctx: ctx() });
    expect(missing[0]).toMatchObject({ outcome: "failed", domain: "p2.example.test" });
    expect(missing[0].message).toContain('"gone" is missing');
  });
});
