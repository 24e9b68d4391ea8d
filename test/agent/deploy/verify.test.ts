// The post-deploy check against a real TLS server (Bun.serve): "served" when the new serial is
// live, "stale" while the old certificate is still served, "unreachable" when nothing answers or
// (with caPem) the chain does not validate. SNI selects the certificate, as on a shared server.
import { afterAll, describe, expect, test } from "bun:test";
import { checkServed } from "../../../src/agent/deploy";
import { normalizeSerial, verifyTarget } from "../../../src/agent/deploy/verify";
import { runDeployments } from "../../../src/agent/deploy";
import { mkdirSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { join } from "node:path";
import { freePort, tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";
import { startServer, type RunningServer } from "./servers";

const ca = makeCa();
const otherCa = makeCa();
const certA = issue(ca, { serialHex: "0aaa000000000001", domains: ["verify.example.test"] });
const certB = issue(ca, { serialHex: "8bbb000000000002", domains: ["verify.example.test"] }); // high bit: DER adds a 00 byte
const other = issue(ca, { serialHex: "0ccc", domains: ["other.example.test"] });

const servers: Array<{ stop: (force?: boolean) => void }> = [];
const realServers: RunningServer[] = [];
afterAll(async () => {
  servers.forEach((s) => s.stop(true));
  for (const s of realServers) await s.stop();
});

function serve(port: number, certs: Array<{ pem: string; key: string; serverName?: string }>) {
  const s = Bun.serve({ hostname: "127.0.0.1", port, tls: certs.map((c) => ({ cert: c.pem, key: c.key, serverName: c.serverName })), fetch: () => new Response("hi") });
  servers.push(s);
  return s;
}

describe("checkServed", () => {
  test("cert A served: A is 'served', B is 'stale'; after the server switches to B: B 'served', A 'stale'", async () => {
    const port = await freePort();
    const s1 = serve(port, [{ pem: certA.fullchainPem, key: certA.keyPem }]);
    const check = (serial: string) => checkServed({ host: "127.0.0.1", port, servername: "verify.example.test", expectedSerial: serial, timeoutMs: 3000 });
    expect(await check(certA.serial)).toBe("served");
    expect(await check(certB.serial)).toBe("stale");
    s1.stop(true);
    serve(port, [{ pem: certB.fullchainPem, key: certB.keyPem }]);
    expect(await check(certB.serial)).toBe("served");
    expect(await check(certA.serial)).toBe("stale");
    // serial spellings from other tools still compare equal
    expect(await check("00:8B:BB:00:00:00:00:00:02")).toBe("served");
  });

  test("SNI picks the certificate: the first domain's certificate is the one compared", async () => {
    const port = await freePort();
    serve(port, [
      { pem: certA.fullchainPem, key: certA.keyPem, serverName: "verify.example.test" },
      { pem: other.fullchainPem, key: other.keyPem, serverName: "other.example.test" },
    ]);
    expect(await checkServed({ host: "127.0.0.1", port, servername: "other.example.test", expectedSerial: other.serial })).toBe("served");
    expect(await checkServed({ host: "127.0.0.1", port, servername: "verify.example.test", expectedSerial: certA.serial })).toBe("served");
    expect(await checkServed({ host: "127.0.0.1", port, servername: "verify.example.test", expectedSerial: other.serial })).toBe("stale");
  });

  test("nothing listening, or no TLS answer within the timeout: 'unreachable'", async () => {
    const port = await freePort();
    expect(await checkServed({ host: "127.0.0.1", port, servername: "verify.example.test", expectedSerial: certA.serial, timeoutMs: 2000 })).toBe("unreachable");
    // a TCP listener that never speaks TLS
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const t0 = Date.now();
    expect(await checkServed({ host: "127.0.0.1", port: silent.port, servername: "verify.example.test", expectedSerial: certA.serial, timeoutMs: 500 })).toBe("unreachable");
    expect(Date.now() - t0).toBeLessThan(2000);
    silent.stop(true);
  });

  test("with caPem: a chain from that CA is checked and compared; a chain from another CA is 'unreachable'", async () => {
    const port = await freePort();
    serve(port, [{ pem: certA.fullchainPem, key: certA.keyPem }]);
    expect(await checkServed({ host: "127.0.0.1", port, servername: "verify.example.test", expectedSerial: certA.serial, caPem: ca.pem })).toBe("served");
    expect(await checkServed({ host: "127.0.0.1", port, servername: "verify.example.test", expectedSerial: certA.serial, caPem: otherCa.pem })).toBe("unreachable");
  });

  test("normalizeSerial", () => {
    expect(normalizeSerial("00:8B:bb")).toBe("8bbb");
    expect(normalizeSerial("0")).toBe("0");
    expect(normalizeSerial("000")).toBe("0");
  });
});

describe("verifyTarget: where the check connects when no host is given", () => {
  test("no host: the first domain on 443, SNI = that domain, and the result says so", () => {
    expect(verifyTarget({}, ["www.example.test", "example.test"])).toEqual({ host: "www.example.test", port: 443, servername: "www.example.test", label: "www.example.test:443 (first domain, SNI www.example.test)" });
    expect(verifyTarget({ host: "", port: 8443 }, ["www.example.test"])).toMatchObject({ host: "www.example.test", port: 8443, label: "www.example.test:8443 (first domain, SNI www.example.test)" });
  });

  test("a wildcard first domain: the next domain that is not a wildcard", () => {
    expect(verifyTarget({ port: 443 }, ["*.example.test", "example.test"])).toEqual({ host: "example.test", port: 443, servername: "example.test", label: "example.test:443 (first domain that is not a wildcard, SNI example.test)" });
  });

  test("only wildcards: an error that asks for a host", () => {
    expect(() => verifyTarget({}, ["*.example.test", "*.other.test"])).toThrow("cannot check the served certificate: every domain is a wildcard (*.example.test, *.other.test), so there is no name to connect to; set the host to check (verify.host)");
  });

  test("a host given: that host, SNI = the first domain (a wildcard becomes a name inside it)", () => {
    expect(verifyTarget({ host: "10.0.0.5", port: 8443 }, ["www.example.test"])).toEqual({ host: "10.0.0.5", port: 8443, servername: "www.example.test", label: "10.0.0.5:8443 (SNI www.example.test)" });
    expect(verifyTarget({ host: "lb.example.test" }, ["*.example.test"]).label).toBe("lb.example.test:443 (SNI certhub-verify.example.test)");
  });

  test("real nginx: no host, an explicit port → connects to the first non-wildcard domain (localhost → 127.0.0.1) with its SNI: served, then stale", async () => {
    const ca2 = makeCa();
    const domains = ["*.example.test", "localhost"];
    const [first, second] = ["d1", "d2"].map((s) => issue(ca2, { serialHex: s, domains }));
    const decoy = issue(ca2, { serialHex: "dd", domains: ["decoy.example.test"] });
    const certs = join(tempDir("certhub-verify-nginx-"), "certs");
    mkdirSync(certs);
    expect((await runDeployments([{ type: "pem", directory: certs, trigger: "success" }], first, "success", context()))[0].lastResult.outcome).toBe("succeeded");
    // nginx serves `first` for SNI localhost and (default server) the decoy for any other name:
    // only the right SNI name gets the deployed certificate.
    const ipv6Loopback = (await lookup("localhost", { all: true })).some((a) => a.family === 6);
    const nginx = await startServer("nginx", certs, "localhost", { defaultServerCert: decoy, ipv6Loopback });
    realServers.push(nginx);
    const target = verifyTarget({ port: nginx.port }, domains);
    expect(target).toMatchObject({ host: "localhost", port: nginx.port, servername: "localhost", label: `localhost:${nginx.port} (first domain that is not a wildcard, SNI localhost)` });
    let state = "";
    for (let i = 0; i < 50 && state !== "served"; i++, await Bun.sleep(100)) state = await checkServed({ ...target, expectedSerial: first.serial, timeoutMs: 2000 });
    expect(state).toBe("served");
    expect(await checkServed({ ...target, servername: "other.example.test", expectedSerial: first.serial })).toBe("stale"); // the decoy
    expect(await checkServed({ ...target, expectedSerial: second.serial })).toBe("stale");
  }, 30_000);
});

