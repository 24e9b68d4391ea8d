// `certhub [serve]`: run the hub until SIGINT/SIGTERM.
import { bootstrapBanner } from "../hub/bootstrap";
import { resolveHubConfig } from "../hub/config";
import { createHub } from "../hub/server";
import { VERSION } from "../version";
import { hubDbOptions, parseCli } from "./args";

export async function runServeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCli(argv, {
    ...hubDbOptions,
    listen: { type: "string" },
    http: { type: "boolean" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "trust-proxy": { type: "string" },
    "audit-max-age": { type: "string" },
    "audit-max-rows": { type: "string" },
    "audit-keep-security": { type: "string" },
    "session-idle": { type: "string" },
    "session-max": { type: "string" },
  });
  if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}" (see certhub --help)`);
  const config = resolveHubConfig(values);
  const hub = await createHub(config);

  console.log(`certhub ${VERSION} hub listening on ${hub.url} (data: ${config.dataDir})`);
  if (hub.fingerprint) console.log(`TLS certificate fingerprint: ${hub.fingerprint}`);
  if (config.trustProxy.length) console.log(`Client addresses from X-Forwarded-For when the peer is in: ${config.trustProxy.join(", ")}`);
  if (hub.bootstrap) console.log(bootstrapBanner(hub.bootstrap, hub.url, hub.fingerprint));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`certhub: ${signal} received, shutting down`);
    await hub.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  return -1;
}
