// Security review #10: sequence high-water marks of unchanged syncs are flushed in batches, so
// after a hub crash (or at a second hub process on the same database) the database may lag.
// Every request that can change state must write its sequence before acting: a captured
// state-changing request is then refused however the hub restarted. A hub that crashed is
// stood in for by a second hub process opened on the same data dir before the first one
// flushed (the first is never stopped, so nothing it held in memory reaches the database);
// test/e2e/reliability.test.ts does the same with kill -9 of the binary. That the unchanged
// sync still writes nothing is checked in test/hub/agent-api.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { instances } from "../../../src/db/schema";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";
import { createJoiningKey } from "../joining-keys.fixtures";
import { FACTS, FakeAgent } from "../agent-api.fixtures";

let hub: TestHub;
let admin: Session;
beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
});
afterAll(() => hub.stop());

const newKey = () => createJoiningKey(admin);

/** The same signed bytes, sent again later to another hub URL. */
function capture(a: FakeAgent, endpoint: string, body: unknown) {
  const seq = a.seq + 1;
  a.seq = seq;
  const time = Date.now();
  return (url = a.hubUrl) => {
    const sender = a.clone();
    Object.assign(sender, { hubUrl: url, bootId: a.bootId });
    return sender.send(endpoint, body, { seq, time });
  };
}

/** A second hub process on the same database: sees only what was written, like a restart. */
async function restartedHub() {
  return startTestHub({ dataDir: hub.dataDir });
}

describe("replay: state-changing agent requests after a hub restart", () => {
  test("a sync carrying facts is refused when replayed; the newer facts stay", async () => {
    const key = await newKey();
    const agent = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
    const first = capture(agent, "sync", { settingsVersion: 1, cursor: 0, facts: { ...FACTS, hostname: "first-name" } });
    expect((await first()).status).toBeLessThan(300);
    const second = capture(agent, "sync", { settingsVersion: 1, cursor: 0, facts: { ...FACTS, hostname: "second-name" } });
    expect((await second()).status).toBeLessThan(300);

    const other = await restartedHub();
    try {
      const replay = await first(other.url);
      expect(replay.status).toBe(409);
      expect((await replay.json()).code).toBe("replay");
      const [row] = await other.deps.db.select().from(instances).where(eq(instances.id, agent.instanceId));
      expect(row.hostname).toBe("second-name");
    } finally {
      await other.stop();
    }
  });

  test("a sync carrying command results and one advancing the cursor are refused when replayed", async () => {
    const key = await newKey();
    const agent = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
    const queued = await admin.json(`/api/v1/instances/${agent.instanceId}/commands`, "POST", { type: "ping" });
    expect(queued.status).toBeLessThan(300);
    const delivered = await (await agent.sync({ settingsVersion: 1, cursor: 0 })).json();
    const cmd = delivered.commands[0];
    const ack = capture(agent, "sync", { settingsVersion: 1, cursor: cmd.seq });
    expect((await ack()).status).toBeLessThan(300);
    const results = capture(agent, "sync", {
      settingsVersion: 1,
      cursor: cmd.seq,
      results: [{ commandId: cmd.id, seq: cmd.seq, status: "succeeded", message: "pong", completedAt: Date.now() }],
    });
    const stored = await results();
    expect(stored.status).toBe(200);

    const other = await restartedHub();
    try {
      for (const replay of [ack, results]) {
        const res = await replay(other.url);
        expect(res.status).toBe(409);
        expect((await res.json()).code).toBe("replay");
      }
    } finally {
      await other.stop();
    }
  });

  test("a leave is final: replaying the signed leave finds nothing to act on", async () => {
    const key = await newKey();
    const agent = await new FakeAgent(hub.url).joined(key.clientId, key.secret);
    const leave = capture(agent, "leave", {});
    expect((await leave()).status).toBe(200);
    const other = await restartedHub();
    try {
      const res = await leave(other.url);
      expect(res.status).toBe(401);
      expect((await res.json()).code).toBe("instance-unknown");
    } finally {
      await other.stop();
    }
  });
});
