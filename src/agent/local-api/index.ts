// The agent's local API server (loopback only). Default 127.0.0.2:9696 — an address of its
// own, so it never collides with services on 127.0.0.1 — falling back to 127.0.0.1:9696
// where 127.0.0.2 cannot be bound (macOS only configures 127.0.0.1 on lo0).
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Server } from "bun";
import type { Agent } from "../agent";
import { ADDRESS_FILE, DEFAULT_LISTEN, FALLBACK_LISTEN } from "../config";
import { checkRequest, isLoopbackAddress } from "./guard";
import { route } from "./routes";

export interface LocalApi {
  server: Server<undefined>;
  url: string;
  stop(): Promise<void>;
}

export async function startLocalApi(agent: Agent, token: string, tokenFile: string, listen: { hostname: string; port: number } | null): Promise<LocalApi> {
  if (listen && !isLoopbackAddress(listen.hostname) && listen.hostname !== "localhost") {
    throw new Error(`--listen must be a loopback address (got ${listen.hostname}); the local API is never exposed to the network`);
  }
  const serve = (where: { hostname: string; port: number }) =>
    Bun.serve({
      hostname: where.hostname,
      port: where.port,
      idleTimeout: 120, // a join waits for the hub (up to ~40 s when it is unreachable)
      async fetch(req, server) {
        const verdict = checkRequest(req, server.requestIP(req)?.address ?? null, token, tokenFile);
        if (!verdict.ok) return Response.json({ error: verdict.error }, { status: verdict.status });
        try {
          return await route(req, agent);
        } catch (err) {
          agent.log(`local API ${req.method} ${new URL(req.url).pathname}: ${err instanceof Error ? err.stack : err}`);
          return Response.json({ error: "internal error" }, { status: 500 });
        }
      },
    });

  let server: Server<undefined>;
  if (listen) {
    server = serve(listen);
  } else {
    try {
      server = serve(DEFAULT_LISTEN);
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      if (code === "EADDRINUSE") throw new Error(`the local API port ${DEFAULT_LISTEN.hostname}:${DEFAULT_LISTEN.port} is in use (another agent running?)`);
      server = serve(FALLBACK_LISTEN);
    }
  }
  const hostPort = `${server.hostname}:${server.port}`;
  // Lets `certhub hub …` find the API when it was moved with --listen.
  writeFileSync(path.join(agent.config.dataDir, ADDRESS_FILE), `${hostPort}\n`, { mode: 0o600 });
  return {
    server,
    url: `http://${hostPort}`,
    async stop() {
      await server.stop(true);
    },
  };
}
