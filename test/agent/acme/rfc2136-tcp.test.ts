// RFC 2136 over TCP when the UDP reply is truncated (TC bit), against a real BIND started by
// test/helpers/acme-peers.ts. Without EDNS (our updates carry none) a UDP reply may be 512 bytes;
// an UPDATE reply echoes the zone section and carries a TSIG record, so a long zone name plus a
// long TSIG key name (hmac-sha512, 64-byte MAC) does not fit: BIND answers over UDP with TC set
// and nothing but the TSIG, and the update must be retried over TCP. The key is added to the
// running BIND (its key file + update-policy, then SIGHUP), so the peer helper stays as it is.
// The TXT visibility check is also exercised with a record set too large for one UDP answer.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { parseServer, txtValues, waitForTxt } from "../../../src/agent/acme/challenges/dns";
import { buildUpdate, signTsig, updateTxt, type TsigKey } from "../../../src/agent/acme/challenges/rfc2136";
import { startBind, type Bind } from "../../helpers/acme-peers";

// 193 bytes on the wire (the DNS limit is 255).
const ZONE = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.tcp.test`;
// 250 bytes on the wire.
const KEY_NAME = `${"k".repeat(60)}.${"e".repeat(60)}.${"y".repeat(60)}.${"n".repeat(60)}.tsig.`;
const BIG = `_acme-challenge.big.${ZONE}`;
const BIG_VALUES = Array.from({ length: 40 }, (_, i) => `big-${String(i).padStart(2, "0")}-${"v".repeat(43)}`);

let bind: Bind;
let longKey: TsigKey;

beforeAll(async () => {
  bind = await startBind({ zone: ZONE, records: ["* IN A 127.0.0.1", ...BIG_VALUES.map((v) => `_acme-challenge.big IN TXT "${v}"`)], algorithms: ["hmac-sha512"] });
  // A long-named hmac-sha512 key: made with tsig-keygen like the others, granted TXT updates.
  const keygen = Bun.spawnSync(["/usr/sbin/tsig-keygen", "-a", "hmac-sha512", KEY_NAME], { stdout: "pipe", stderr: "pipe" });
  const out = keygen.stdout.toString();
  const secret = out.match(/secret "([^"]+)"/)?.[1];
  if (keygen.exitCode !== 0 || !secret) throw new Error(`tsig-keygen failed: ${keygen.stderr.toString()}`);
  longKey = { name: KEY_NAME, algorithm: "hmac-sha512", secret };
  appendFileSync(join(bind.dir, "tsig.key"), out);
  const conf = join(bind.dir, "named.conf");
  writeFileSync(conf, readFileSync(conf, "utf8").replace("update-policy {", `update-policy { grant ${KEY_NAME} zonesub TXT;`));
  const pid = Number(readFileSync(join(bind.dir, "named.pid"), "utf8").trim());
  process.kill(pid, "SIGHUP"); // named reloads its configuration and keys
  // Ready when the new key is accepted (a signed update of our own that succeeds).
  const server = parseServer(bind.server);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await updateTxt({ server, zone: ZONE, fqdn: `_acme-challenge.ready.${ZONE}.`, value: "ready", op: "add", key: { ...bind.keys["hmac-sha512"] } }).then(() => true, () => false);
    const named = readFileSync(join(bind.dir, "named.log"), "utf8");
    if (ok && /reloading configuration succeeded|reloading zones succeeded|any newly configured zones are now loaded/.test(named)) break;
    if (Date.now() > deadline) throw new Error(`named did not reload:\n${bind.output()}`);
    await Bun.sleep(100);
  }
}, 30_000);

afterAll(async () => {
  await bind?.stop();
});

/** Sends one message over UDP and returns BIND's raw answer. */
function udpOnce(msg: Buffer): Promise<Buffer> {
  const { host, port } = parseServer(bind.server);
  return new Promise((ok, fail) => {
    const sock = createSocket("udp4");
    const timer = setTimeout(() => (sock.close(), fail(new Error("no UDP answer"))), 3000);
    sock.on("message", (b) => (clearTimeout(timer), sock.close(), ok(b)));
    sock.send(msg, port, host);
  });
}

function dig(name: string, ...flags: string[]): string[] {
  const { host, port } = parseServer(bind.server);
  const r = Bun.spawnSync(["dig", `@${host}`, "-p", String(port), "+short", ...flags, "TXT", name], { stdout: "pipe" });
  return r.stdout.toString().trim().split("\n").filter(Boolean).map((l) => l.replace(/^"|"$/g, ""));
}

describe("RFC 2136 with a reply too large for UDP (BIND sets TC)", () => {
  test("the premise: BIND answers this signed update over UDP with the TC bit and an empty zone section", async () => {
    const fqdn = `_acme-challenge.premise.${ZONE}.`;
    const { signed } = signTsig(buildUpdate(4242, ZONE, fqdn, "premise", "add"), longKey);
    expect(signed.length).toBeGreaterThan(512);
    const reply = await udpOnce(signed);
    expect(reply.readUInt16BE(0)).toBe(4242);
    expect(reply.readUInt16BE(2) & 0x0200).toBe(0x0200); // TC
    expect(reply.readUInt16BE(4)).toBe(0); // the zone section did not fit
    expect(reply.length).toBeLessThanOrEqual(512);
  });

  test("updateTxt retries over TCP: the value is added, a second value kept, ours deleted — each reply's TSIG verified", async () => {
    const server = parseServer(bind.server);
    const fqdn = `_acme-challenge.tcp.${ZONE}.`;
    expect(await updateTxt({ server, zone: ZONE, fqdn, value: "over-tcp-1", op: "add", key: longKey })).toBe("tcp");
    expect(await updateTxt({ server, zone: ZONE, fqdn, value: "over-tcp-2", op: "add", key: longKey })).toBe("tcp");
    expect(dig(fqdn).sort()).toEqual(["over-tcp-1", "over-tcp-2"]);
    expect(await updateTxt({ server, zone: ZONE, fqdn, value: "over-tcp-1", op: "delete", key: longKey })).toBe("tcp");
    expect(dig(fqdn)).toEqual(["over-tcp-2"]);
    expect(await updateTxt({ server, zone: ZONE, fqdn, value: "over-tcp-2", op: "delete", key: longKey })).toBe("tcp");
    expect(dig(fqdn)).toEqual([]);
    // The same update with a short key name fits in UDP and stays there.
    expect(await updateTxt({ server, zone: ZONE, fqdn, value: "over-udp", op: "add", key: bind.keys["hmac-sha512"] })).toBe("udp");
    expect(await updateTxt({ server, zone: ZONE, fqdn, value: "over-udp", op: "delete", key: bind.keys["hmac-sha512"] })).toBe("udp");
  });

  test("a server that closes the TCP connection without answering fails the update at once (no hang)", async () => {
    // BIND cannot be told to refuse TCP, so a loopback stand-in plays the server: it answers UDP
    // with the truncated reply BIND really sent, and closes every TCP connection unanswered.
    const fqdn = `_acme-challenge.closer.${ZONE}.`;
    const { signed } = signTsig(buildUpdate(777, ZONE, fqdn, "v", "add"), longKey);
    const truncated = await udpOnce(signed);
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end(), data() {} } });
    const udp = createSocket("udp4");
    await new Promise<void>((ok) => udp.bind(tcp.port, "127.0.0.1", ok));
    udp.on("message", (m, from) => {
      const reply = Buffer.from(truncated);
      m.copy(reply, 0, 0, 2); // the request's id
      udp.send(reply, from.port, from.address);
    });
    try {
      const t0 = performance.now();
      const err = await updateTxt({ server: { host: "127.0.0.1", port: tcp.port }, zone: ZONE, fqdn, value: "v", op: "add", key: longKey, timeoutMs: 20_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toBe(`DNS server 127.0.0.1:${tcp.port} (TCP) closed the connection without answering the update`);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      udp.close();
      tcp.stop(true);
    }
  });

  test("a wrong secret with the long key is refused with the TSIG problem named (BIND's unsigned error fits in UDP)", async () => {
    const err = await updateTxt({ server: parseServer(bind.server), zone: ZONE, fqdn: `_acme-challenge.bad.${ZONE}.`, value: "v", op: "add", key: { ...longKey, secret: Buffer.alloc(64, 3).toString("base64") } }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/NOTAUTH|BADSIG/);
    expect(dig(`_acme-challenge.bad.${ZONE}.`)).toEqual([]);
  });

  test("a TXT record set larger than one UDP answer: the visibility check still sees every value (TCP)", async () => {
    expect(dig(BIG, "+ignore", "+noedns").length).toBeLessThan(BIG_VALUES.length); // truncated over UDP
    const server = parseServer(bind.server);
    expect((await txtValues(server, BIG)).sort()).toEqual(BIG_VALUES);
    await updateTxt({ server, zone: ZONE, fqdn: `${BIG}.`, value: "ours-among-many", op: "add", key: longKey });
    expect(await waitForTxt(server, BIG, "ours-among-many", 5000)).toBeLessThan(5000);
    await updateTxt({ server, zone: ZONE, fqdn: `${BIG}.`, value: "ours-among-many", op: "delete", key: longKey });
    expect((await txtValues(server, BIG)).sort()).toEqual(BIG_VALUES);
  });
});
