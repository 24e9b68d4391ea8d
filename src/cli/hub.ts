// `certhub hub join|leave|status` — mirrors the seed's `certify hub join`, by calling the
// running agent's local API with the token from its data dir.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ADDRESS_FILE, DEFAULT_LISTEN, FALLBACK_LISTEN, resolveAgentDataDir, tokenPath } from "../agent/config";
import { JOIN_WARNING } from "../agent/warning";
import { parseCli, parseListen, UsageError } from "./args";

const USAGE = `usage:
  certhub hub join <hubUrl> <clientId> <clientSecret|-> [--fingerprint sha256:…]
  certhub hub leave
  certhub hub status [--json]
options: --data-dir DIR (the agent's data dir), --listen HOST:PORT (its local API)`;

interface Target {
  urls: string[];
  token: string;
  tokenFile: string;
}

function findAgent(flags: { "data-dir"?: string; listen?: string }): Target {
  const dataDir = resolveAgentDataDir(flags["data-dir"]);
  const tokenFile = tokenPath(dataDir);
  let token: string;
  try {
    token = readFileSync(tokenFile, "utf8").trim();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") throw new Error(`no agent token at ${tokenFile}: is the agent running with this data dir? (--data-dir / CERTHUB_AGENT_DATA_DIR)`);
    if (code === "EACCES") throw new Error(`cannot read ${tokenFile}: run this as the agent's user (or root)`);
    throw err;
  }
  const hostPorts: string[] = [];
  if (flags.listen) {
    const l = parseListen(flags.listen);
    hostPorts.push(`${l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname}:${l.port}`);
  } else {
    const addrFile = path.join(dataDir, ADDRESS_FILE);
    if (existsSync(addrFile)) hostPorts.push(readFileSync(addrFile, "utf8").trim());
    hostPorts.push(`${DEFAULT_LISTEN.hostname}:${DEFAULT_LISTEN.port}`, `${FALLBACK_LISTEN.hostname}:${FALLBACK_LISTEN.port}`);
  }
  return { urls: [...new Set(hostPorts)].map((h) => `http://${h}`), token, tokenFile };
}

async function call(t: Target, method: "GET" | "POST", pathname: string, body?: unknown): Promise<{ status: number; json: any }> {
  let lastErr = "";
  for (const base of t.urls) {
    try {
      const res = await fetch(`${base}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${t.token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(90_000),
      });
      const text = await res.text();
      let json: any = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = { error: text };
      }
      return { status: res.status, json };
    } catch (err) {
      lastErr = `${base}: ${err instanceof Error ? err.message : err}`;
    }
  }
  throw new Error(`the agent is not running or not reachable (${lastErr}); start it with \`certhub --agent\``);
}

async function readStdin(): Promise<string> {
  return (await new Response(Bun.stdin.stream()).text()).trim();
}

export async function runHubCommand(argv: string[]): Promise<number> {
  let sub = "";
  try {
    const { values, positionals } = parseCli(argv, {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      fingerprint: { type: "string" },
      json: { type: "boolean" },
    });
    const [cmd, ...args] = positionals;
    sub = cmd ?? "";
    switch (cmd) {
      case "join": {
        if (args.length !== 3) throw new UsageError("hub join needs <hubUrl> <clientId> <clientSecret>");
        const [url, clientId, secretArg] = args as [string, string, string];
        const secret = secretArg === "-" ? await readStdin() : secretArg;
        const target = findAgent(values);
        console.log(JOIN_WARNING);
        const r = await call(target, "POST", "/api/system/hub/join", { url, clientId, secret, ...(values.fingerprint ? { fingerprint: values.fingerprint } : {}) });
        if (r.status !== 200) {
          console.error(`certhub hub join: ${r.json?.error ?? `agent answered ${r.status}`}`);
          return 1;
        }
        console.log(r.json.alreadyJoined ? `Already joined to ${r.json.hubUrl} as instance ${r.json.instanceId}` : `Joined ${r.json.hubUrl} as instance ${r.json.instanceId}${r.json.group ? ` (group ${r.json.group})` : ""}`);
        return 0;
      }
      case "leave": {
        if (args.length) throw new UsageError("hub leave takes no arguments");
        const r = await call(findAgent(values), "POST", "/api/system/hub/leave");
        if (r.status !== 200) {
          console.error(`certhub hub leave: ${r.json?.error ?? `agent answered ${r.status}`}`);
          return 1;
        }
        console.log(r.json.hubNotified ? "Left the hub." : `Left the hub locally; the hub was not told (${r.json.error}). Remove the instance in the hub.`);
        return 0;
      }
      case "status": {
        if (args.length) throw new UsageError("hub status takes no arguments");
        const r = await call(findAgent(values), "GET", "/api/system/status");
        if (r.status !== 200) {
          console.error(`certhub hub status: ${r.json?.error ?? `agent answered ${r.status}`}`);
          return 1;
        }
        if (values.json) {
          console.log(JSON.stringify(r.json, null, 2));
          return 0;
        }
        const s = r.json;
        const when = (t: number | null) => (t ? new Date(t).toISOString() : "never");
        // The error often restates the status ("access revoked" / "access revoked: the joining
        // key … was revoked"): say it once, on the status line.
        const repeats = typeof s.lastError === "string" && s.lastError.toLowerCase().startsWith(String(s.status).toLowerCase());
        console.log(`status:        ${repeats ? s.lastError : s.status}`);
        console.log(`hub:           ${s.hubUrl ?? "not joined"}`);
        if (s.instanceId) console.log(`instance:      ${s.instanceId}${s.group ? ` (group ${s.group})` : ""}`);
        if (s.identity === "conflict") console.log("identity:      CONFLICT — another process uses this identity; ask the hub admin to reset it");
        console.log(`last sync:     ${when(s.lastSyncAt)}`);
        if (s.lastError && !repeats) console.log(`last error:    ${s.lastError}`);
        console.log(`certificates:  ${s.certificateCount}`);
        console.log(`scripts:       ${s.allowScripts ? "allowed" : "refused"}`);
        return 0;
      }
      default:
        throw new UsageError(cmd ? `unknown hub command "${cmd}"` : "missing hub command");
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`certhub hub${sub ? ` ${sub}` : ""}: ${err.message}\n${USAGE}`);
      return 2;
    }
    console.error(`certhub hub${sub ? ` ${sub}` : ""}: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
}
