// Real agents (src/agent/agent.ts) against one in-process hub per test file: useSignedInHub plus
// the agents a file starts (each stopped before the hub), joining keys from the admin session,
// and an agent joined and past its first sync.
import { Agent } from "../../src/agent/agent";
import { useSignedInHub, type SignedInHub } from "./hub-fixture";
import { tempDir } from "./index";
import { until } from "./poll";

export type JoiningKey = { clientId: string; secret: string };

export interface HubWithAgents extends SignedInHub {
  /** Every agent newAgent started and not yet taken out; all are stopped before the hub. */
  readonly agents: Agent[];
  /** A started, not joined agent (fresh data dir unless given; scripts not allowed unless asked). */
  newAgent(opts?: { log?: (message: string) => void; allowScripts?: boolean; dataDir?: string }): Promise<Agent>;
  /** A new joining key (managed-instance API token) made by the admin. */
  newKey(body?: Record<string, unknown>): Promise<JoiningKey>;
  /** A new agent joined with a new key through `url` (the hub's by default), once it is connected. */
  joinedAgent(opts?: { url?: string; log?: (message: string) => void; allowScripts?: boolean }): Promise<{ agent: Agent; instanceId: string; key: JoiningKey }>;
}

export function useHubWithAgents(): HubWithAgents {
  const agents: Agent[] = [];
  const base = useSignedInHub({
    beforeStop: async () => {
      for (const a of agents) await a.stop().catch(() => {});
    },
  });
  const fixture: HubWithAgents = {
    get hub() {
      return base.hub;
    },
    get admin() {
      return base.admin;
    },
    agents,
    async newAgent(opts = {}) {
      const a = await Agent.create({ dataDir: opts.dataDir ?? tempDir("certhub-agent-"), listen: null, allowScripts: opts.allowScripts ?? false }, opts.log ?? (() => {}));
      await a.start();
      agents.push(a);
      return a;
    },
    async newKey(body = {}) {
      const res = await base.admin.json("/api/v1/tokens", "POST", { title: `key ${Math.random().toString(36).slice(2, 8)}`, ...body });
      return (await res.json()) as JoiningKey;
    },
    async joinedAgent(opts = {}) {
      const key = await fixture.newKey();
      const agent = await fixture.newAgent({ log: opts.log, allowScripts: opts.allowScripts });
      const r = await agent.join({ url: opts.url ?? base.hub.url, clientId: key.clientId, secret: key.secret, fingerprint: null });
      await until("first sync", async () => (await agent.status()).status === "connected");
      return { agent, instanceId: r.instanceId, key };
    },
  };
  return fixture;
}

/**
 * A loopback HTTP proxy in front of `target()` (e.g. the hub's URL): `intercept` may answer a
 * request itself (a refusal, a broken upgrade); whatever it leaves (undefined) is passed on. It
 * does not pass WebSocket upgrades: intercept them. `stop()` closes it and its connections.
 */
export function loopbackProxy(target: () => string, intercept: (req: Request, url: URL) => Response | undefined) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    async fetch(req) {
      const u = new URL(req.url);
      const answer = intercept(req, u);
      if (answer) return answer;
      return fetch(`${target()}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.method === "POST" ? await req.arrayBuffer() : undefined });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
