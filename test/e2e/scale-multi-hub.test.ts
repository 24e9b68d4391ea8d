// Two hub processes on one database file (issue 13): an agent holding its push channel on hub A
// learns within 2 s about a command queued, and a joining key revoked, through hub B.
// The agent is simulated (bench/held.ts) but signs every request exactly as the real one does.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { RawConnection, seedWaitAgents, waitRequest, type WaitAgent } from "../../bench/held";
import { AGENT_API_PREFIX, sha256HexOf, signRequest, signedPath } from "../../src/protocol";
import { runCli, startHub, tempDir, type Hub } from "../helpers";
import { signIn, type Session } from "../helpers/session";

setDefaultTimeout(60_000);

const bin = process.env.CERTHUB_BIN === "source" ? "source" : undefined;

let hubA: Hub;
let hubB: Hub;
let adminB: Session;
let dataDir: string;
let agent: WaitAgent;
let tokenId: string;
let seq = 0;

/** A signed sync against `hub`, as the agent sends it. */
async function sync(hub: Hub, cursor: number): Promise<{ status: number; body: any }> {
  const body = JSON.stringify({ settingsVersion: 1, cursor });
  const headers = signRequest(agent.key, { method: "POST", path: signedPath("sync"), instanceId: agent.id, time: Date.now(), seq: ++seq, bootId: agent.bootId, bodySha256: sha256HexOf(body) });
  const res = await fetch(`${hub.url}${AGENT_API_PREFIX}/sync`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Opens a wait on hub A and resolves with its answer and how long it was held. */
async function waitOnA(cursor: number): Promise<{ conn: RawConnection; answer: Promise<{ body: string | undefined; at: number }> }> {
  const conn = new RawConnection(hubA.port);
  await conn.connected;
  const answer = conn.send(waitRequest(agent, { timeoutSeconds: 30, cursor, host: `127.0.0.1:${hubA.port}` })).then((r) => ({ body: r?.body, at: performance.now() }));
  await Bun.sleep(500); // held (authenticated and parked) before anything happens
  return { conn, answer };
}

beforeAll(async () => {
  dataDir = tempDir("certhub-two-hubs-");
  hubA = await startHub({ dataDir, bin });
  hubB = await startHub({ dataDir, bin });
  adminB = await signIn(hubB.url);
  const created = await runCli(["keys", "create", "--title", "two hubs", "--json"], { dataDir, bin });
  expect(created.code).toBe(0);
  const { clientId } = JSON.parse(created.stdout) as { clientId: string };
  [agent] = await seedWaitAgents(join(dataDir, "hub.db"), clientId, 1, "twohubs");
  const client = createClient({ url: `file:${join(dataDir, "hub.db")}` });
  tokenId = String((await client.execute({ sql: "SELECT id FROM api_tokens WHERE client_id = ?", args: [clientId] })).rows[0].id);
  client.close();
  expect((await sync(hubA, 0)).status).toBe(204); // known to hub A, nothing to do
});

afterAll(async () => {
  await Promise.all([hubA?.stop(), hubB?.stop()]);
});

describe("two hub processes on one database", () => {
  test("a command queued through hub B reaches the agent waiting on hub A within 2 s", async () => {
    const { conn, answer } = await waitOnA(0);
    try {
      const queuedAt = performance.now();
      const res = await adminB.json(`/api/v1/instances/${agent.id}/commands`, "POST", { type: "ping" });
      expect(res.status).toBeLessThan(300);
      const queued = (await res.json()) as { id?: string; commandId?: string };
      const commandId = queued.commandId ?? queued.id;
      const got = await Promise.race([answer, Bun.sleep(5000).then(() => null)]);
      expect(got?.body).toBe('{"nudge":true}');
      const pushMs = got!.at - queuedAt;
      console.log(`queued on hub B → nudge on hub A in ${pushMs.toFixed(0)} ms`);
      expect(pushMs).toBeLessThan(2000);
      const s = await sync(hubA, 0);
      expect(s.status).toBe(200);
      expect(s.body.commands.map((c: { id: string }) => c.id)).toContain(commandId);
    } finally {
      conn.close();
    }
  });

  test("a joining key revoked through hub B cuts off the agent on hub A within 2 s", async () => {
    const { conn, answer } = await waitOnA(1); // holds the command from the test above
    try {
      const revokedAt = performance.now();
      const res = await adminB.json(`/api/v1/tokens/${tokenId}/revoke`, "POST", {});
      expect(res.status).toBeLessThan(300);
      const got = await Promise.race([answer, Bun.sleep(5000).then(() => null)]);
      expect(got?.body).toBe('{"nudge":true}');
      const cutMs = got!.at - revokedAt;
      console.log(`revoked on hub B → agent on hub A woken in ${cutMs.toFixed(0)} ms`);
      expect(cutMs).toBeLessThan(2000);
      const s = await sync(hubA, 1);
      expect(s.status).toBeGreaterThanOrEqual(400);
      expect(s.body.code).toBe("key-revoked");
    } finally {
      conn.close();
    }
  });
});
