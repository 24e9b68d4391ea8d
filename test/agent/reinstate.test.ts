// Reinstating a revoked instance with a real agent (src/agent/sync/): the agent learns within
// seconds that it may talk to the hub again and logs "access restored", and until it has synced
// the hub does not call the instance online. The agent also tells the hub its script policy in
// its first sync.
import { expect, test } from "bun:test";
import { until as pollUntil } from "../helpers/poll";
import { useHubWithAgents } from "../helpers/agents";

const fx = useHubWithAgents();
const log: string[] = [];

const until = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number) => pollUntil(what, check, timeoutMs, 25);

const hubStatus = async (id: string) => ((await (await fx.admin.fetch(`/api/v1/instances/${id}`)).json()) as { status: string; allowScripts: boolean | null }).status;

test(
  "a revoked agent learns within seconds that it was reinstated; the hub says offline until then",
  async () => {
    const { agent, instanceId } = await fx.joinedAgent({ log: (m) => log.push(m) });
    expect(((await (await fx.admin.fetch(`/api/v1/instances/${instanceId}`)).json()) as { allowScripts: boolean }).allowScripts).toBe(false);

    expect((await fx.admin.fetch(`/api/v1/instances/${instanceId}/revoke`, { method: "POST" })).status).toBe(200);
    await until("access revoked on the agent", async () => (await agent.status()).accessRevoked, 5000);

    const t = performance.now();
    expect((await fx.admin.fetch(`/api/v1/instances/${instanceId}/reinstate`, { method: "POST" })).status).toBe(200);
    // Not online yet: the agent is still cut off until its next (re-check) sync.
    expect(await hubStatus(instanceId)).toBe("offline");
    const page = await (await fx.admin.fetch(`/instances/${instanceId}`)).text();
    expect(page).toContain("waiting for the agent to sync again");

    await until("agent connected again", async () => (await agent.status()).status === "connected", 8000);
    const seconds = (performance.now() - t) / 1000;
    console.log(`reinstated → agent connected again in ${seconds.toFixed(1)} s (re-check every 5 s ±10 %)`);
    expect(seconds).toBeLessThan(7);
    expect(log).toContain("access restored: the hub reinstated this instance");
    await until("online at the hub", async () => (await hubStatus(instanceId)) === "online", 3000);
    // Commands reach it again.
    const cmd = await fx.admin.json(`/api/v1/instances/${instanceId}/commands`, "POST", { type: "ping" });
    expect(cmd.status).toBe(202);
  },
  30_000,
);
