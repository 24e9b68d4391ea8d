// RFC 2136 dynamic UPDATE signed with TSIG (RFC 8945), hand-encoded because no npm package signs
// TSIG: add one TXT value, or delete only our own value (class NONE) so a concurrent validation
// sharing the name (wildcard + apex) keeps its record. The reply's TSIG is verified too.
import { createHmac, randomInt, timingSafeEqual } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect, isIP } from "node:net";
import type { DnsServer } from "./dns";

export interface TsigKey { name: string; algorithm: string; secret: string }

const ALGORITHMS: Record<string, { wire: string; hash: string }> = {
  "hmac-md5": { wire: "hmac-md5.sig-alg.reg.int", hash: "md5" },
  "hmac-sha1": { wire: "hmac-sha1", hash: "sha1" },
  "hmac-sha224": { wire: "hmac-sha224", hash: "sha224" },
  "hmac-sha256": { wire: "hmac-sha256", hash: "sha256" },
  "hmac-sha384": { wire: "hmac-sha384", hash: "sha384" },
  "hmac-sha512": { wire: "hmac-sha512", hash: "sha512" },
};

const TYPE_SOA = 6, TYPE_TXT = 16, TYPE_TSIG = 250;
const CLASS_IN = 1, CLASS_NONE = 254, CLASS_ANY = 255;
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];
const TSIG_ERRORS: Record<number, string> = { 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC" };

/** Wire form of a domain name, lower-cased (canonical, as TSIG requires), no compression. */
export function encodeName(name: string): Buffer {
  const labels = name.toLowerCase().replace(/\.$/, "").split(".").filter(Boolean);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, "ascii");
    if (b.length > 63) throw new Error(`DNS label too long in ${name}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }
function u48(n: number): Buffer { const b = Buffer.alloc(6); b.writeUIntBE(n, 0, 6); return b; }

function txtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** The unsigned UPDATE message: zone section + one TXT RR (add, or delete this exact value). */
export function buildUpdate(id: number, zone: string, fqdn: string, value: string, op: "add" | "delete", ttl = 60): Buffer {
  const rdata = txtRdata(value);
  return Buffer.concat([
    u16(id), u16(5 << 11), u16(1), u16(0), u16(1), u16(0),
    encodeName(zone), u16(TYPE_SOA), u16(CLASS_IN),
    encodeName(fqdn), u16(TYPE_TXT), u16(op === "add" ? CLASS_IN : CLASS_NONE), u32(op === "add" ? ttl : 0), u16(rdata.length), rdata,
  ]);
}

function algorithmOf(key: TsigKey) {
  const alg = ALGORITHMS[key.algorithm.toLowerCase().replace(/\.$/, "")];
  if (!alg) throw new Error(`unsupported TSIG algorithm ${key.algorithm}`);
  return alg;
}

function tsigVariables(key: TsigKey, time: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([encodeName(key.name), u16(CLASS_ANY), u32(0), encodeName(algorithmOf(key).wire), u48(time), u16(fudge), u16(error), u16(other.length), other]);
}

/** Appends a TSIG RR; returns the signed message and its MAC (needed to check the reply). */
export function signTsig(msg: Buffer, key: TsigKey, time = Math.floor(Date.now() / 1000)): { signed: Buffer; mac: Buffer } {
  const alg = algorithmOf(key);
  const fudge = 300;
  const mac = createHmac(alg.hash, Buffer.from(key.secret, "base64")).update(msg).update(tsigVariables(key, time, fudge, 0, Buffer.alloc(0))).digest();
  const rdata = Buffer.concat([encodeName(alg.wire), u48(time), u16(fudge), u16(mac.length), mac, msg.subarray(0, 2), u16(0), u16(0)]);
  const rr = Buffer.concat([encodeName(key.name), u16(TYPE_TSIG), u16(CLASS_ANY), u32(0), u16(rdata.length), rdata]);
  const signed = Buffer.concat([msg, rr]);
  signed.writeUInt16BE(msg.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

function skipName(buf: Buffer, off: number): number {
  for (;;) {
    const len = buf[off];
    if (len === undefined) throw new Error("truncated DNS name");
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
    if (len === 0) return off;
  }
}

/** Checks the reply's rcode and TSIG (RFC 8945 §5.3: the reply MAC covers the request MAC). */
export function checkReply(reply: Buffer, id: number, key: TsigKey, requestMac: Buffer): void {
  if (reply.length < 12 || reply.readUInt16BE(0) !== id) throw new Error("DNS server sent a reply to another message");
  const rcode = reply.readUInt16BE(2) & 0xf;
  const counts = [4, 6, 8, 10].map((o) => reply.readUInt16BE(o));
  let off = 12;
  for (let i = 0; i < counts[0]; i++) off = skipName(reply, off) + 4;
  for (let i = 0; i < counts[1] + counts[2] + counts[3] - 1; i++) { off = skipName(reply, off) + 8; off += 2 + reply.readUInt16BE(off); }
  let tsig: { start: number; time: number; fudge: number; mac: Buffer; error: number; other: Buffer } | null = null;
  if (counts[3] > 0) {
    const start = off;
    off = skipName(reply, off);
    if (reply.readUInt16BE(off) === TYPE_TSIG) {
      let p = skipName(reply, off + 10);
      const time = reply.readUIntBE(p, 6); p += 6;
      const fudge = reply.readUInt16BE(p); p += 2;
      const macLen = reply.readUInt16BE(p); p += 2;
      const mac = reply.subarray(p, p + macLen); p += macLen + 2;
      const error = reply.readUInt16BE(p); p += 2;
      const otherLen = reply.readUInt16BE(p); p += 2;
      tsig = { start, time, fudge, mac, error, other: reply.subarray(p, p + otherLen) };
    }
  }
  if (tsig?.error) throw new Error(`DNS update refused: ${RCODES[rcode] ?? rcode}(${TSIG_ERRORS[tsig.error] ?? tsig.error}) — check the TSIG key name, algorithm and secret`);
  if (rcode !== 0) throw new Error(`DNS update failed: ${RCODES[rcode] ?? `rcode ${rcode}`}${rcode === 5 ? " (the key may not update this name/type: check update-policy)" : rcode === 9 ? " (server not authoritative for the zone, or key rejected)" : ""}`);
  if (!tsig) throw new Error("DNS server answered the signed update without a TSIG signature");
  const unsigned = Buffer.from(reply.subarray(0, tsig.start));
  unsigned.writeUInt16BE(counts[3] - 1, 10);
  const expected = createHmac(algorithmOf(key).hash, Buffer.from(key.secret, "base64"))
    .update(Buffer.concat([u16(requestMac.length), requestMac, unsigned, tsigVariables(key, tsig.time, tsig.fudge, tsig.error, tsig.other)]))
    .digest();
  if (expected.length !== tsig.mac.length || !timingSafeEqual(expected, tsig.mac)) throw new Error("DNS server's reply has a bad TSIG signature");
}

function sendUdp(srv: DnsServer, msg: Buffer, id: number, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const sock = createSocket(isIP(srv.host) === 6 ? "udp6" : "udp4");
    const done = (err: Error | null, buf?: Buffer) => { clearTimeout(timer); signal?.removeEventListener("abort", onAbort); sock.close(); err ? fail(err) : ok(buf!); };
    const timer = setTimeout(() => done(new Error(`DNS server ${srv.host}:${srv.port} did not answer the update within ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = () => done(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    sock.on("error", (e) => done(e));
    sock.on("message", (buf) => { if (buf.length >= 2 && buf.readUInt16BE(0) === id) done(null, buf); });
    sock.send(msg, srv.port, srv.host);
  });
}

/**
 * One DNS message over TCP (RFC 1035 §4.2.2: two-byte length prefix). Settles exactly once: on
 * the full answer, on an error, on the server closing before answering (a server that refuses
 * TCP must not leave the update hanging), on the timeout, or on abort.
 */
function sendTcp(srv: DnsServer, msg: Buffer, id: number, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const where = `DNS server ${srv.host}:${srv.port} (TCP)`;
    const sock = connect({ host: srv.host, port: srv.port });
    let acc = Buffer.alloc(0);
    let settled = false;
    const done = (err: Error | null, buf?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      err ? fail(err) : ok(buf!);
    };
    const timer = setTimeout(() => done(new Error(`${where} did not answer the update within ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = () => done(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    sock.on("error", (e) => done(new Error(`${where}: ${e.message}`)));
    sock.on("close", () => done(new Error(`${where} closed the connection without answering the update`)));
    sock.on("connect", () => sock.write(Buffer.concat([u16(msg.length), msg])));
    sock.on("data", (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      while (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) {
        const reply = acc.subarray(2, 2 + acc.readUInt16BE(0));
        acc = acc.subarray(2 + reply.length);
        if (reply.length >= 2 && reply.readUInt16BE(0) === id) return done(null, reply);
      }
    });
  });
}

/**
 * Sends one signed TXT add/delete to the primary server and verifies the signed reply. Over UDP
 * first; a reply with the TC bit (it did not fit: no EDNS here, so 512 bytes — a long zone or key
 * name does it) is asked again over TCP, and only that full reply is checked. Resending is safe:
 * adding an RR that exists and deleting one that is gone change nothing (RFC 2136 §3.4.2).
 * Returns the transport whose answer was accepted.
 */
export async function updateTxt(opts: { server: DnsServer; zone: string; fqdn: string; value: string; op: "add" | "delete"; key: TsigKey; signal?: AbortSignal; timeoutMs?: number }): Promise<"udp" | "tcp"> {
  const id = randomInt(0, 65536);
  const { signed, mac } = signTsig(buildUpdate(id, opts.zone, opts.fqdn, opts.value, opts.op), opts.key);
  const timeout = opts.timeoutMs ?? 5000;
  const udp = await sendUdp(opts.server, signed, id, timeout, opts.signal);
  if (!(udp.readUInt16BE(2) & 0x0200)) {
    checkReply(udp, id, opts.key, mac);
    return "udp";
  }
  const tcp = await sendTcp(opts.server, signed, id, timeout, opts.signal);
  if (tcp.readUInt16BE(2) & 0x0200) throw new Error(`DNS server ${opts.server.host}:${opts.server.port} truncated its TCP answer to the update`);
  checkReply(tcp, id, opts.key, mac);
  return "tcp";
}
