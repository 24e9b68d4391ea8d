#!/usr/bin/env bun
// Which push channel is cheaper to hold in this runtime: a pending HTTP long-poll or an open
// WebSocket? (issue 13: target ≤ 4 KiB per connected agent, no periodic re-request cost.)
// Runs a bare Bun.serve in a child process per channel — no hub, no auth — with N connections
// held from raw sockets, and reports the child's RSS per connection and CPU per
// connection-minute. It isolates the runtime's own cost of each channel, which is what the
// choice depends on; the hub adds the same authentication work to both.
//
//   bun bench/push-channel.ts [--n 10000] [--window 30] [--repoll 50]
import { connect, type Socket } from "node:net";
import { processCpuSeconds, processRssBytes } from "./held";

const SERVER = `
const mode = process.argv[2];
const repollMs = Number(process.argv[3]) * 1000;
const server = Bun.serve({
  hostname: "127.0.0.1", port: 0, idleTimeout: 10,
  fetch(req, srv) {
    if (mode === "ws") {
      if (srv.upgrade(req, { data: { id: req.headers.get("x-id") } })) return;
      return new Response("no", { status: 400 });
    }
    srv.timeout(req, repollMs / 1000 + 10);
    return req.text().then(() => new Promise((resolve) => {
      const t = setTimeout(() => resolve(Response.json({ nudge: false })), repollMs);
      req.signal.addEventListener("abort", () => clearTimeout(t), { once: true });
    }));
  },
  websocket: { idleTimeout: 120, sendPings: true, message() {}, open() {}, close() {} },
});
console.log(server.port);
`;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

async function measure(mode: "longpoll" | "ws", n: number, windowS: number, repollS: number) {
  const file = `/tmp/certhub-push-channel-${process.pid}.ts`;
  await Bun.write(file, SERVER);
  const child = Bun.spawn([process.execPath, file, mode, String(repollS)], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  await Bun.sleep(500);
  const rss0 = processRssBytes(child.pid)!;
  const sockets: Socket[] = [];
  let ready = 0;
  const body = JSON.stringify({ cursor: 0, settingsVersion: 1, timeoutSeconds: repollS });
  const request = (i: number) =>
    mode === "ws"
      ? `GET /push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nx-id: a${i}\r\n\r\n`
      : `POST /wait HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  for (let i = 0; i < n; i++) {
    const s = connect(port, "127.0.0.1", () => s.write(request(i)));
    s.on("error", () => {});
    let got = false;
    s.on("data", (d) => {
      if (mode === "ws" && !got && d.toString().startsWith("HTTP/1.1 101")) {
        got = true;
        ready++;
      }
      if (mode === "longpoll" && d.toString().startsWith("HTTP/1.1 200")) s.write(request(i)); // re-poll
    });
    if (mode === "longpoll") {
      ready++;
    }
    sockets.push(s);
    if (i % 500 === 499) await Bun.sleep(20);
  }
  await Bun.sleep(3000);
  const rss1 = processRssBytes(child.pid)!;
  const cpu0 = processCpuSeconds(child.pid)!;
  await Bun.sleep(windowS * 1000);
  const cpu1 = processCpuSeconds(child.pid)!;
  for (const s of sockets) s.destroy();
  child.kill();
  await child.exited;
  return { mode, held: ready, rssPerConnKiB: (rss1 - rss0) / 1024 / n, cpuMsPerConnMinute: ((cpu1 - cpu0) * 1000) / (n * (windowS / 60)) };
}

if (import.meta.main) {
  const n = arg("n", 10_000);
  const windowS = arg("window", 30);
  const repollS = arg("repoll", 50);
  for (const mode of ["longpoll", "ws"] as const) {
    const r = await measure(mode, n, windowS, repollS);
    console.log(`${mode.padEnd(8)} ${r.held} held: ${r.rssPerConnKiB.toFixed(1)} KiB RSS per connection, ${r.cpuMsPerConnMinute.toFixed(3)} ms CPU per connection-minute (window ${windowS} s, re-poll ${repollS} s)`);
  }
}
