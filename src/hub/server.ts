// Starts a hub: database, first-run bootstrap, TLS, background services, HTTP server.
// Used by `certhub serve` and by in-process tests.
import { sql } from "drizzle-orm";
import { tokenStatus } from "../db/apiTokens";
import { openHubDatabase } from "../db/client";
import { ensurePrivateDir, restrictSecretFiles } from "../lib/private-files";
import { apiTokens } from "../db/schema";
import { purgeExpiredSessions } from "../db/sessions";
import { createApp } from "./app";
import { startAuditRetention } from "./security/auditRetention";
import { bootstrapHub, type BootstrapResult } from "./bootstrap";
import type { HubConfig } from "./config";
import type { HubDeps } from "./context";
import { loadOrCreateEncryptionKey } from "./encryption-key";
import { createFleetService } from "./fleet";
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

  const purge = setInterval(() => purgeExpiredSessions(db).catch(() => {}), 10 * 60_000);
  deps.services.push({ name: "session-purge", stop: () => clearInterval(purge) });
  deps.services.push(startAuditRetention(db, config.auditRetention));

  let server: ReturnType<typeof Bun.serve> | undefined;
  let fingerprint: string | undefined;
  let url = "http://in-process";
  if (listen) {
    fingerprint = tls?.fingerprint;
    server = Bun.serve({
      hostname: config.listen.hostname,
      port: config.listen.port,
      fetch: app.fetch,
      tls: tls ? { cert: tls.cert, key: tls.key } : undefined,
      idleTimeout: 60, // long-polling agents wait up to ~30 s
      maxRequestBodySize: 4 * 1024 * 1024,
    });
    const host = ["0.0.0.0", "::"].includes(config.listen.hostname) ? "localhost" : config.listen.hostname;
    url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  }

  return {
    url,
    fingerprint,
    bootstrap,
    deps,
    app,
    async stop() {
      server?.stop(true);
      for (const s of deps.services) await s.stop();
      await fleet.stop();
      database.close();
    },
  };
}

function registerGauges(deps: HubDeps) {
  const { db, metrics } = deps;
  // Declared up front so scrapes show 0 before the first failure.
  metrics.counter("certhub_signin_failures_total", "Failed admin sign-in attempts");
  metrics.gauge("certhub_api_tokens", "API tokens by role and status", async () => {
    const rows = await db
      .select({ roleId: apiTokens.roleId, state: apiTokens.state, expiresAt: apiTokens.expiresAt, maxUses: apiTokens.maxUses, useCount: apiTokens.useCount })
      .from(apiTokens)
      .where(sql`1`);
    const counts = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const r of rows) {
      const labels = { role: r.roleId, status: tokenStatus(r) };
      const k = `${labels.role}|${labels.status}`;
      counts.set(k, { labels, value: (counts.get(k)?.value ?? 0) + 1 });
    }
    return [...counts.values()];
  });
}
