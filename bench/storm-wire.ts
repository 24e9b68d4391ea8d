// The simulated fleet's connections for the reconnect-storm bench (bench/storm-agents.ts): one
// TCP connection per agent request on Bun.connect, speaking just enough HTTP/1.1 (Content-Length
// answers, which is all the hub sends) and WebSocket (RFC 6455: the upgrade, unmasked server
// frames, masked pong/close from the client). Why not fetch and the WebSocket class: 5,000
// agents reconnecting in 5 s cost the bench process ~1.5 ms each through them (profiled: the
// WebSocket constructor, node:net writes, connects), more than its share of a 2-core machine,
// so the bench's own lag (seconds) was measured as the hub's latency.
import type { Socket } from "bun";

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface WsEvents {
  /** A text frame. */
  message(text: string): void;
  /** The close frame's code, or 1006 when the connection just ended. */
  close(code: number): void;
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** One connection: `request()` HTTP exchanges one at a time, or `upgrade()` it to a WebSocket. */
export class WireConnection {
  private socket: Socket<undefined> | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private pending: ((r: WireResponse | null) => void) | null = null;
  private unsent: Buffer | null = null;
  private ws: WsEvents | null = null;
  private wsCloseCode = 1006;
  closed = false;
  readonly connected: Promise<boolean>;

  constructor(port: number, host = "127.0.0.1") {
    this.connected = Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, d) => this.onData(d),
        drain: (s) => {
          const rest = this.unsent;
          this.unsent = null;
          if (rest) this.write(s, rest);
        },
        close: () => this.onClose(),
        error: () => this.onClose(),
        connectError: () => this.onClose(),
      },
    }).then(
      (s) => {
        if (this.closed) {
          s.end();
          return false;
        }
        this.socket = s;
        return true;
      },
      () => {
        this.onClose();
        return false;
      },
    );
  }

  private write(s: Socket<undefined>, data: Buffer) {
    const n = s.write(data);
    if (n < data.length) this.unsent = this.unsent ? Buffer.concat([this.unsent, data.subarray(Math.max(0, n))]) : data.subarray(Math.max(0, n));
  }

  /** Sends one request; resolves with the answer, or null when refused, closed first or timed out. */
  async request(raw: string, timeoutMs: number): Promise<WireResponse | null> {
    if (!(await this.connected) || this.closed || !this.socket) return null;
    const socket = this.socket;
    return new Promise((ok) => {
      const timer = setTimeout(() => {
        this.close();
      }, timeoutMs);
      this.pending = (r) => {
        clearTimeout(timer);
        ok(r);
      };
      this.write(socket, Buffer.from(raw, "latin1"));
    });
  }

  /**
   * Sends an upgrade request; resolves with null once switched (frames then go to `events`), or
   * with the hub's answer when it refused (the connection is then closed), or "failed" when
   * there was no answer.
   */
  async upgrade(raw: string, events: WsEvents, timeoutMs: number): Promise<null | WireResponse | "failed"> {
    const r = await this.request(raw, timeoutMs);
    if (!r) return "failed";
    if (r.status !== 101) {
      this.close();
      return r;
    }
    this.ws = events;
    if (this.closed) events.close(this.wsCloseCode); // closed while switching
    else this.parseFrames();
    return null;
  }

  close() {
    if (this.socket && !this.closed) this.socket.end();
    this.onClose();
  }

  private onClose() {
    if (this.closed) return;
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    p?.(null);
    this.ws?.close(this.wsCloseCode);
  }

  private onData(d: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.ws) this.parseFrames();
    else this.parseHttp();
  }

  private parseHttp() {
    const end = this.buf.indexOf(HEAD_END);
    if (end < 0 || !this.pending) return;
    const head = this.buf.subarray(0, end).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(":");
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(head[0].split(" ")[1]);
    const len = status === 101 ? 0 : Number(headers["content-length"] ?? 0);
    if (this.buf.length < end + 4 + len) return;
    const body = this.buf.subarray(end + 4, end + 4 + len).toString("utf8");
    this.buf = this.buf.subarray(end + 4 + len);
    const p = this.pending;
    this.pending = null;
    p({ status, headers, body });
  }

  private parseFrames() {
    while (this.buf.length >= 2 && this.ws) {
      const opcode = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 0x1) this.ws.message(payload.toString("utf8"));
      else if (opcode === 0x9 && this.socket) this.write(this.socket, clientFrame(0xa, payload));
      else if (opcode === 0x8) {
        this.wsCloseCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        if (this.socket) this.write(this.socket, clientFrame(0x8, payload.subarray(0, 2)));
        this.close();
      }
    }
  }
}

/** A masked client frame (payloads under 126 bytes: pong, close). */
function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  out.set(mask, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** A random Sec-WebSocket-Key. */
export const webSocketKey = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
