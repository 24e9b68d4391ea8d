// The post-deploy check against a real TLS server (Bun.serve): "served" when the new serial is
// live, "stale" while the old certificate is still served, "unreachable" when nothing answers or
// (with caPem) the chain does not validate. SNI selects the certificate, as on a shared server.
import { afterAll, describe, expect, test } from "bun:test";
import { checkServed } from "../../../src/agent/deploy";
import { normalizeSerial } from "../../../src/agent/deploy/verify";
import { freePort } from "../../helpers";
import { issue, makeCa } from "./fixtures";

const ca = makeCa();
const otherCa = makeCa();
const certA = issue(ca, { serialHex: "0aaa000000000001", domains: ["verify.example.test"] });
const certB = issue(ca, { serialHex: "8bbb000000000002", domains: ["verify.example.test"] }); // high bit: DER adds a 00 byte
const other = issue(ca, { serialHex: "0ccc", domains: ["other.example.test"] });

const servers: Array<{ stop: (force?: boolean) => void }> = [];
afterAll(() => servers.forEach((s) => s.stop(true)));

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
