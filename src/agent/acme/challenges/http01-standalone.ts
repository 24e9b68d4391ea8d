// HTTP-01 with the agent's own listener (Bun.serve, default "::" = IPv4 + IPv6), open only while
// a validation needs it. Concurrent authorizations on the same address:port share one listener.
import type { Server } from "bun";
import { checkToken, type Presented, type Solver } from "./common";

interface Listener { server: Server<undefined>; tokens: Map<string, string> }
const listeners = new Map<string, Listener>();
const PREFIX = "/.well-known/acme-challenge/";

function open(address: string, port: number): Listener {
  const key = `${address}|${port}`;
  const existing = listeners.get(key);
  if (existing) return existing;
  const tokens = new Map<string, string>();
  const serve = (hostname: string) =>
    Bun.serve({
      hostname,
      port,
      reusePort: false,
      fetch(req) {
        const path = new URL(req.url).pathname;
        const keyAuth = path.startsWith(PREFIX) ? tokens.get(path.slice(PREFIX.length)) : undefined;
        return keyAuth ? new Response(keyAuth, { headers: { "content-type": "text/plain" } }) : new Response("not found", { status: 404 });
      },
    });
  let server: Server<undefined>;
  try {
    try {
      server = serve(address);
    } catch (err) {
      // A host with IPv6 disabled cannot bind "::": the default then falls back to IPv4 only.
      const code = (err as { code?: string }).code ?? "";
      if (address !== "::" || !/EAFNOSUPPORT|EADDRNOTAVAIL|EINVAL/.test(code)) throw err;
      server = serve("0.0.0.0");
    }
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    const why = code === "EADDRINUSE" ? "the port is in use by another program (use a webroot, or another port behind a forward)"
      : code === "EACCES" ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
      : (err as Error).message;
    throw new Error(`HTTP-01 listener on ${address.includes(":") ? `[${address}]` : address}:${port} could not start: ${why}`);
  }
  const l = { server, tokens };
  listeners.set(key, l);
  return l;
}

/** Serves one token until the returned release is called; the last release closes the port. */
export function serveToken(address: string, port: number, token: string, keyAuthorization: string): () => Promise<void> {
  const l = open(address, port);
  l.tokens.set(checkToken(token), keyAuthorization);
  return async () => {
    l.tokens.delete(token);
    if (l.tokens.size === 0 && listeners.get(`${address}|${port}`) === l) {
      listeners.delete(`${address}|${port}`);
      await l.server.stop(true);
    }
  };
}

export function standaloneSolver(c: { address?: string; port?: number }): Solver {
  const address = c.address ?? "::";
  const port = c.port ?? 80;
  return {
    type: "http-01",
    async present(task): Promise<Presented> {
      const release = serveToken(address, port, task.token, task.keyAuthorization);
      return { waitReady: async () => {}, cleanup: release };
    },
  };
}
