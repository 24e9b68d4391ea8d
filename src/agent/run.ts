// `certhub --agent`: the long-lived agent process. Foreground; SIGTERM/SIGINT stop it cleanly
// (open long-poll aborted, running command given a few seconds, database closed).
import { readFileSync } from "node:fs";
import { normalizeFingerprint } from "../protocol/fingerprint";
import { VERSION } from "../version";
import { Agent } from "./agent";
import type { AgentConfig } from "./config";
import { startLocalApi } from "./local-api";
import { ensureDataDir, loadOrCreateToken } from "./local-api/token";

export interface StartupJoin {
  url: string;
  clientId: string;
  secretFile: string;
  fingerprint?: string;
}

export async function runAgent(config: AgentConfig, join?: StartupJoin): Promise<number> {
  // Validate everything that can be validated before touching the data dir.
  let secret = "";
  let fingerprint: string | null = null;
  if (join) {
    try {
      secret = readFileSync(join.secretFile, "utf8").trim();
    } catch (err) {
      console.error(`certhub agent: cannot read --secret-file ${join.secretFile}: ${err instanceof Error ? err.message : err}`);
      return 2;
    }
    if (!secret) {
      console.error(`certhub agent: --secret-file ${join.secretFile} is empty`);
      return 2;
    }
    if (join.fingerprint) {
      fingerprint = normalizeFingerprint(join.fingerprint);
      if (!fingerprint) {
        console.error('certhub agent: invalid --fingerprint (expected "sha256:" followed by 64 hex digits)');
        return 2;
      }
    }
  }

  ensureDataDir(config.dataDir);
  const { token, file: tokenFile, created } = loadOrCreateToken(config.dataDir);
  const agent = await Agent.create(config);
  await agent.start();
  let api;
  try {
    api = await startLocalApi(agent, token, tokenFile, config.listen);
  } catch (err) {
    await agent.stop();
    console.error(`certhub agent: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
  console.log(`certhub agent ${VERSION}`);
  console.log(`  data dir:  ${config.dataDir}`);
  console.log(`  local API: ${api.url} (bearer token in ${tokenFile}${created ? ", created now" : ""})`);
  console.log(`  scripts:   ${config.allowScripts ? "ALLOWED (--allow-scripts)" : "refused (start with --allow-scripts to allow)"}`);
  const status = await agent.status();
  console.log(status.hubUrl ? `  hub:       ${status.hubUrl} (instance ${status.instanceId}, ${status.status})` : "  hub:       not joined");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(130); // second signal: give up waiting
    stopping = true;
    console.log(`[agent] ${signal}: shutting down`);
    await api.stop().catch(() => {});
    await agent.stop().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  if (join) {
    // agent.join logs the security warning and "joined: instance …" itself; only the
    // already-joined case is said here, so the log has each line once.
    try {
      const r = await agent.join({ url: join.url, clientId: join.clientId, secret, fingerprint });
      if (r.alreadyJoined) console.log(`already joined to ${r.hubUrl} as instance ${r.instanceId}`);
    } catch (err) {
      console.error(`certhub agent: join failed: ${err instanceof Error ? err.message : err}`);
      await api.stop().catch(() => {});
      await agent.stop().catch(() => {});
      return 1;
    }
  }
  return -1; // keeps running until a signal
}
