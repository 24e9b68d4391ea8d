// Simulated agents that hold the push channel (POST /api/agent/v1/wait, or the WebSocket
// GET /api/agent/v1/push with holdSockets), for the held-connections and reconnect-storm bench
// scenarios and the scale tests. Each wait is a
// real signed request (src/protocol/signing.ts) on a raw TCP socket: fetch pools and caps its
// connections (256 in flight by default), raw sockets let the caller decide exactly how many
// connections exist — which is the point here. Agents are seeded straight into hub.db (as a
// join would write them), because joins are rate-limited per source address.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { createClient } from "@libsql/client";
import { newInstanceId } from "../src/db/instances";
import { AGENT_API_PREFIX, sha256HexOf, signRequest, signedPath } from "../src/protocol";

export interface WaitAgent {
  id: string;
  key: KeyObject;
  publicKey: string;
  bootId: string;
  /** Highest command seq the agent holds (the bench bumps it after each nudge). */
  cursor?: number;
}

/** N instances joined with the joining key `clientId`, written into the hub database. */
export async function seedWaitAgents(dbPath: string, clientId: string, n: number, prefix = "held"): Promise<WaitAgent[]> {
  const agents: WaitAgent[] = Array.from({ length: n }, (_, i) => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    return { id: newInstanceId(), key: privateKey, publicKey: (publicKey.export({ format: "jwk" }) as { x: string }).x, bootId: `${prefix}-boot-${i}` };
  });
  const client = createClient({ url: `file:${dbPath}` });
  try {
    await client.execute("PRAGMA busy_timeout = 10000");
    const token = await client.execute({ sql: "SELECT id FROM api_tokens WHERE client_id = ?", args: [clientId] });
    const tokenId = token.rows[0]?.id;
    if (!tokenId) throw new Error(`joining key ${clientId} not found in ${dbPath}`);
    const now = Date.now();
    const stmts = agents.map((a, i) => ({
      sql:
        "INSERT INTO instances (id, hostname, os, arch, version, public_key, joining_key_id, sync_interval_seconds, last_boot_id, last_seq, last_seen_at, joined_at, updated_at) " +
        "VALUES (?, ?, 'Debian GNU/Linux 12', 'x64', '0.1.0', ?, ?, 60, ?, 0, ?, ?, ?)",
      args: [a.id, `${prefix}-${String(i).padStart(6, "0")}.example.net`, a.publicKey, tokenId, a.bootId, now, now, now],
    }));
    for (let i = 0; i < stmts.length; i += 500) await client.batch(stmts.slice(i, i + 500), "write");
  } finally {
    client.close();
  }
  return agents;
}

/** The raw bytes of a signed wait request (HTTP/1.1 keep-alive). */
export function waitRequest(a: WaitAgent, opts: { timeoutSeconds: number; cursor?: number; settingsVersion?: number; host: string }): string {
  const body = JSON.stringify({ cursor: opts.cursor ?? 0, settingsVersion: opts.settingsVersion ?? 1, timeoutSeconds: opts.timeoutSeconds });
  const headers = signRequest(a.key, { method: "POST", path: signedPath("wait"), instanceId: a.id, time: Date.now(), seq: 1, bootId: a.bootId, bodySha256: sha256HexOf(body) });
  const lines = [`POST ${AGENT_API_PREFIX}/wait HTTP/1.1`, `Host: ${opts.host}`, "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One keep-alive connection that sends requests and parses the answers (Content-Length bodies,
 * which is all the hub sends). `onClose` fires once when either side closes.
 */
export class RawConnection {
  readonly socket: Socket;
  private buf = "";
  private pending: ((r: RawResponse | null) => void) | null = null;
  closed = false;
  connected: Promise<boolean>;

  constructor(port: number, host = "127.0.0.1", onClose?: () => void) {
    this.socket = connect(port, host);
    this.socket.setNoDelay(true);
    this.connected = new Promise((ok) => {
      this.socket.once("connect", () => ok(true));
      this.socket.once("error", () => ok(false));
    });
    this.socket.on("data", (d) => {
      this.buf += d.toString("latin1");
      this.parse();
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.closed = true;
      const p = this.pending;
      this.pending = null;
      p?.(null);
      onClose?.();
    });
  }

  private parse() {
    const end = this.buf.indexOf("\r\n\r\n");
    if (end < 0 || !this.pending) return;
    const head = this.buf.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(":");
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers["content-length"] ?? 0);
    if (this.buf.length < end + 4 + len) return;
    const body = this.buf.slice(end + 4, end + 4 + len);
    this.buf = this.buf.slice(end + 4 + len);
    const p = this.pending;
    this.pending = null;
    p({ status: Number(head[0].split(" ")[1]), headers, body });
  }

  /** Sends one request; resolves with the answer, or null when the connection closed first. */
  send(raw: string): Promise<RawResponse | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((ok) => {
      this.pending = ok;
      this.socket.write(raw);
    });
  }

  close() {
    this.socket.destroy();
  }
}

export interface HeldFleet {
  /** Waits currently held open (request sent, no answer yet). */
  readonly holding: number;
  readonly nudges: number;
  readonly refused: number;
  /** Times from a hub nudge back to the next held wait are not counted; push latency is the caller's. */
  readonly reconnects: number;
  stop(): void;
}

/**
 * Every agent holds `perAgent` waits, re-polling at once after an answer and reconnecting after
 * `reconnectDelayMs()` when the hub closes the connection (or refuses with 503).
 */
export function holdWaits(opts: {
  port: number;
  agents: WaitAgent[];
  perAgent?: number;
  timeoutSeconds?: number;
  reconnectDelayMs?: () => number;
  /** Randomize each agent's first wait timeout (default true). */
  spreadFirst?: boolean;
  onAnswer?: (a: WaitAgent, r: RawResponse) => void;
}): HeldFleet {
  let holding = 0;
  let nudges = 0;
  let refused = 0;
  let reconnects = 0;
  let stopped = false;
  const conns = new Set<RawConnection>();
  const delay = opts.reconnectDelayMs ?? (() => 1000 + Math.random() * 2000);
  const host = `127.0.0.1:${opts.port}`;
  const open = (a: WaitAgent) => {
    if (stopped) return;
    const conn = new RawConnection(opts.port, "127.0.0.1", () => {
      conns.delete(conn);
      if (!stopped) {
        reconnects++;
        setTimeout(() => open(a), delay());
      }
    });
    conns.add(conn);
    const loop = async () => {
      if (!(await conn.connected)) return;
      // The first wait ends at a random point of the re-poll period, so a fleet opened at once
      // re-polls spread out afterwards, as real agents (started at different times) do.
      const full = opts.timeoutSeconds ?? 50;
      let timeoutSeconds = opts.spreadFirst === false ? full : Math.max(1, Math.round(Math.random() * full));
      while (!stopped && !conn.closed) {
        holding++;
        const r = await conn.send(waitRequest(a, { timeoutSeconds, cursor: a.cursor, host }));
        timeoutSeconds = full;
        holding--;
        if (!r) return;
        opts.onAnswer?.(a, r);
        if (r.status === 200 && r.body.includes('"nudge":true')) nudges++;
        if (r.status !== 200) {
          refused++;
          conn.close();
          return;
        }
        if (r.headers.connection === "close") {
          conn.close();
          return;
        }
      }
    };
    void loop();
  };
  for (const a of opts.agents) for (let i = 0; i < (opts.perAgent ?? 1); i++) open(a);
  return {
    get holding() {
      return holding;
    },
    get nudges() {
      return nudges;
    },
    get refused() {
      return refused;
    },
    get reconnects() {
      return reconnects;
    },
    stop() {
      stopped = true;
      for (const c of conns) c.close();
      conns.clear();
    },
  };
}

/** The signature headers of a push WebSocket upgrade (GET, empty body), as the agent sends them. */
export function pushHeaders(a: WaitAgent): Record<string, string> {
  return signRequest(a.key, { method: "GET", path: signedPath("push"), instanceId: a.id, time: Date.now(), seq: 1, bootId: a.bootId, bodySha256: sha256HexOf("") });
}

/**
 * Every agent holds one push WebSocket, opened `concurrency` at a time; after each nudge it
 * reports its new cursor as the agent does after its sync. Reconnects after
 * `reconnectDelayMs()` when the hub closes the socket or refuses the upgrade.
 */
export function holdSockets(opts: {
  port: number;
  agents: WaitAgent[];
  concurrency?: number;
  reconnectDelayMs?: () => number;
  onNudge?: (a: WaitAgent) => void;
}): HeldFleet {
  let holding = 0;
  let nudges = 0;
  let refused = 0;
  let reconnects = 0;
  let stopped = false;
  const sockets = new Set<WebSocket>();
  const delay = opts.reconnectDelayMs ?? (() => 1000 + Math.random() * 2000);
  const open = (a: WaitAgent) =>
    new Promise<void>((settled) => {
      if (stopped) return settled();
      const url = `ws://127.0.0.1:${opts.port}${AGENT_API_PREFIX}/push?cursor=${a.cursor ?? 0}&settingsVersion=1`;
      const ws = new WebSocket(url, { headers: pushHeaders(a), perMessageDeflate: false } as unknown as string[]);
      sockets.add(ws);
      let confirmed = false;
      ws.onmessage = (e) => {
        const nudge = String(e.data).includes('"nudge":true');
        if (!confirmed) {
          confirmed = true;
          holding++;
          settled();
        }
        if (nudge) {
          nudges++;
          a.cursor = (a.cursor ?? 0) + 1; // as if it had synced and stored the command
          opts.onNudge?.(a);
          ws.send(JSON.stringify({ cursor: a.cursor, settingsVersion: 1 }));
        }
      };
      ws.onclose = () => {
        sockets.delete(ws);
        if (confirmed) holding--;
        else refused++;
        settled();
        if (!stopped) {
          reconnects++;
          setTimeout(() => void open(a), delay());
        }
      };
    });
  void (async () => {
    const queue = [...opts.agents];
    const workers = Array.from({ length: opts.concurrency ?? 256 }, async () => {
      for (let a = queue.shift(); a && !stopped; a = queue.shift()) await open(a);
    });
    await Promise.all(workers);
  })();
  return {
    get holding() {
      return holding;
    },
    get nudges() {
      return nudges;
    },
    get refused() {
      return refused;
    },
    get reconnects() {
      return reconnects;
    },
    stop() {
      stopped = true;
      for (const ws of sockets) ws.close();
      sockets.clear();
    },
  };
}

/** utime + stime of a process in seconds (Linux /proc), for hub CPU figures. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Resident memory of a process in bytes (Linux /proc), for memory-per-agent figures. */
export function processRssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1]);
    return Number.isFinite(kb) ? kb * 1024 : null;
  } catch {
    return null;
  }
}

/** Open descriptors of a process (Linux /proc). */
export function processFdCount(pid: number): number | null {
  try {
    const size = statSync(`/proc/${pid}/fd`).size;
    return size > 0 ? size : readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" }).stdout?.toString().trim()) || 100;
