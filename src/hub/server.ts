// Starts a hub: database, first-run bootstrap, TLS, background services, HTTP server.
// Used by `certhub serve` and by in-process tests.
import { tokenCountRows, tokenStatus } from "../db/api-tokens";
import { openHubDatabase } from "../db/client";
import { ensurePrivateDir, restrictSecretFiles } from "../lib/private-files";
import { purgeExpiredSessions } from "../db/sessions";
import { createApp } from "./app";
import { agentsAllowed, IDLE_TIMEOUT_SECONDS, readOpenFileLimit, startDescriptorGuard, type DescriptorGuard, type Pressure } from "./descriptors";
import { startAuditRetention } from "./security/audit-retention";
import { bootstrapHub, type BootstrapResult } from "./bootstrap";
import type { HubConfig } from "./config";
import type { HubDeps } from "./context";
import { loadOrCreateEncryptionKey } from "./encryption-key";
import { createFleetService } from "./fleet";
import { allowDeferred, finishDeferred } from "./agent-api/deferred";
import { pushSocketHandlers } from "./agent-api/push";
import { isPlainWait, serveWait } from "./agent-api/wait";
import { startMemorySettler, type MemorySettler } from "./fleet/settle";
import { agentRequestsQueued } from "./middleware/agent-admission";
import { Metrics } from "./metrics";
import { loadOrCreateTls } from "./tls";

export interface RunningHub {
  url: string;
  fingerprint?: string;
  bootstrap?: BootstrapResult;
  deps: HubDeps;
  app: ReturnType<typeof createApp>;
  stop(): Promise<void>;
}

export async function createHub(config: HubConfig, opts: { listen?: boolean } = {}): Promise<RunningHub> {
  // Owner-only data dir and secret files, also when they already existed with wider modes.
  ensurePrivateDir(config.dataDir);
  restrictSecretFiles(config.dataDir);
  const listen = opts.listen !== false;
  // TLS first: a bad --tls-* file fails the start before anything is opened or created.
  const tls = listen && !config.http ? await loadOrCreateTls(config.dataDir, config.tlsCert, config.tlsKey) : undefined;
  // Before the database: a wrong CERTHUB_SECRET_KEY or a damaged key file stops the start.
  const secretKey = loadOrCreateEncryptionKey(config.dataDir, config.secretKey).key;
  const database = await openHubDatabase(config.dbUrl, config.dbAuthToken);
  const { db } = database;
  const bootstrap = await bootstrapHub(db);
  const metrics = new Metrics();
  const fleet = createFleetService({ db, metrics, config });
  const deps: HubDeps = { db, config, metrics, fleet, secretKey, services: [] };
  registerGauges(deps);
  const app = createApp(deps);

  const purge = setInterval(() => purgeExpiredSessions(db, config.sessions).catch(() => {}), 10 * 60_000);
  deps.services.push({ name: "session-purge", stop: () => clearInterval(purge) });
  deps.services.push(startAuditRetention(db, config.auditRetention));

  let server: ReturnType<typeof Bun.serve> | undefined;
  let guard: DescriptorGuard | undefined;
  let settler: MemorySettler | undefined;
  let fingerprint: string | undefined;
  let url = "http://in-process";
  if (listen) {
    fingerprint = tls?.fingerprint;
    guard = startDescriptorGuard({ limit: readOpenFileLimit(), onTick: (pressure, inUse) => shed(pressure, inUse) });
    server = Bun.serve({
      hostname: config.listen.hostname,
      port: config.listen.port,
      // While shedding, every answer closes its connection so descriptors come back at once.
      // A plain signed wait is served before Hono (agent-api/wait.ts: one is held per agent on
      // the long-poll fallback); any other held wait answers later, outside the middleware
      // chain (agent-api/deferred.ts).
      fetch: (req, srv) => {
        let res: Promise<Response>;
        if (isPlainWait(req)) res = serveWait(req, srv, deps);
        else {
          allowDeferred(req);
          res = Promise.resolve(app.fetch(req, srv)).then((r) => finishDeferred(req, r));
        }
        return guard!.pressure === "normal" ? res : res.then(withConnectionClose);
      },
      tls: tls ? { cert: tls.cert, key: tls.key } : undefined,
      // Short for everyone: an idle keep-alive (or a request that never finishes) holds a
      // descriptor. An authenticated agent wait extends its own connection (agent-api/wait.ts).
      idleTimeout: IDLE_TIMEOUT_SECONDS,
      maxRequestBodySize: 4 * 1024 * 1024,
      // The agents' WebSocket push channel (agent-api/push.ts); its pings keep proxies open.
      websocket: pushSocketHandlers(fleet),
    });
    // After a burst of agents connecting, give the garbage of their upgrades back (settle.ts).
    const settles = metrics.counter("certhub_memory_settles_total", "Memory given back after a burst of agent push WebSockets");
    const settlePause = metrics.counter("certhub_memory_settle_seconds_total", "Event-loop pause spent giving memory back");
    settler = startMemorySettler({
      opened: () => fleet.push.socketsOpened, metrics, // per-part pause and skips (settle.ts)
      onSettle: (ms) => {
        settles.inc();
        settlePause.inc({}, ms / 1000);
      },
    });
    const host = ["0.0.0.0", "::"].includes(config.listen.hostname) ? "localhost" : config.listen.hostname;
    url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
    if (guard.budget) {
      const allowed = agentsAllowed(guard.budget, guard.inUse ?? 0);
      console.log(
        `open-file limit ${guard.budget.limit}: room for about ${allowed} agents holding their push connection` +
          (allowed < 10_000 ? " (raise it with LimitNOFILE= in the systemd unit or ulimit -n; see README)" : ""),
      );
    }
  }
  metrics.gauge("certhub_descriptor_pressure", "1 while the hub sheds connections because descriptors run short, 2 when critical", () => [
    { labels: {}, value: guard ? ["normal", "shedding", "critical"].indexOf(guard.pressure) : 0 },
  ]);
  metrics.gauge("certhub_agent_push_sockets", "Agent push WebSockets currently open", () => [{ labels: {}, value: fleet.push.sockets }]);
  metrics.gauge("certhub_agent_requests_queued", "Agent API requests waiting for their turn (at most 32 are admitted per event-loop turn)", () => [{ labels: {}, value: agentRequestsQueued() }]);
  let lastPressure: Pressure = "normal";
  // Called every 100 ms by the guard. Bun's accept loop spins on EMFILE, so the hub must never
  // get there: idle keep-alives go first, then (critical) the longest-held agent waits.
  function shed(pressure: Pressure, inUse: number) {
    fleet.push.shedding = pressure !== "normal";
    if (pressure !== lastPressure) {
      console.error(`certhub: descriptors ${inUse}/${guard?.budget?.limit}: ${pressure === "normal" ? "back to normal" : `${pressure}: closing idle connections, new agent waits get 503`}`);
      lastPressure = pressure;
    }
    if (pressure === "normal" || !server) return;
    server.closeIdleConnections();
    if (pressure === "critical" && guard?.budget) fleet.push.releaseOldest(Math.max(16, inUse - guard.budget.shedAt));
  }

  return {
    url,
    fingerprint,
    bootstrap,
    deps,
    app,
    async stop() {
      guard?.stop();
      settler?.stop();
      server?.stop(true);
      for (const s of deps.services) await s.stop();
      await fleet.stop();
      database.close();
    },
  };
}

/** The same response with `Connection: close` (headers of some responses are immutable). */
function withConnectionClose(res: Response): Response {
  try {
    res.headers.set("Connection", "close");
    return res;
  } catch {
    const headers = new Headers(res.headers);
    headers.set("Connection", "close");
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  }
}

function registerGauges(deps: HubDeps) {
  const { db, metrics } = deps;
  // Declared up front so scrapes show 0 before the first failure.
  metrics.counter("certhub_signin_failures_total", "Failed admin sign-in attempts");
  metrics.gauge("certhub_api_tokens", "API tokens by role and status", async () => {
    const rows = await tokenCountRows(db);
    const counts = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const r of rows) {
      const labels = { role: r.roleId, status: tokenStatus(r) };
      const k = `${labels.role}|${labels.status}`;
      counts.set(k, { labels, value: (counts.get(k)?.value ?? 0) + 1 });
    }
    return [...counts.values()];
  });
}
