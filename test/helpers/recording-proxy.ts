// A loopback HTTP proxy in front of the hub that keeps every request body it forwards, so a
// test can check what agents really put on the wire (e.g. that no private key ever leaves).
// The hub's own log would only show what the hub chose to print.

export interface SentBody {
  path: string;
  body: string;
}

/** Forwards everything to `target` and pushes each request body onto `sent`. */
export function recordingProxy(target: string, sent: SentBody[]): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120, // the agent's long-poll holds 50 s
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.text();
      if (body !== undefined) sent.push({ path: url.pathname, body });
      const headers = new Headers(req.headers);
      headers.delete("host");
      try {
        const res = await fetch(`${target}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: "manual" });
        return new Response(res.body, { status: res.status, headers: res.headers });
      } catch {
        return new Response("hub unreachable", { status: 502 }); // the hub restarting
      }
    },
  });
}
