// Config syncs that arrive together read their instances' certificate definitions in one query
// (DefinitionReader in src/hub/core/instance-config.ts). Each config still carries exactly its
// own instance's definitions, and a definition changed before a sync asks is in that sync's
// answer — between batches, and when the change lands while a batch is being gathered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { updateManagedCertificateRow } from "../../../src/db/managed-certificates";
import { definitionReaderOf, instanceConfig } from "../../../src/hub/core/instance-config";
import type { FakeAgent } from "../agent-api.fixtures";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "./fixtures";

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.hub.stop());

const N = 40;

describe("batched definition reads", () => {
  test(`${N} concurrent config syncs each get exactly their own certificate definitions, never a stale one`, async () => {
    const ca = await createCaAccount(w.admin);
    const agents: FakeAgent[] = [];
    /** Instance id → its definitions' ids, and one definition per instance that the test edits. */
    const own = new Map<string, string[]>();
    const edited = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const agent = await addInstance(w, { group: i % 2 ? "batch-odd" : null });
      agents.push(agent);
      const ids: string[] = [];
      // 0, 1 or 2 definitions: an instance without any must get none of its neighbours'.
      for (let k = 0; k < i % 3; k++) {
        const r = await call(w.admin, "POST", "/api/v1/managed-certificates", {
          instanceId: agent.instanceId,
          name: `web-${i}-${k}`,
          domains: [`i${i}-k${k}.example.com`],
          caAccountId: ca.id,
          challenge: { type: "http-01", port: 8080 },
        });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      own.set(agent.instanceId, ids.sort());
      if (ids.length) edited.set(agent.instanceId, ids[0]);
    }

    const reader = definitionReaderOf(w.hub.deps.db);
    for (let round = 1; round <= 4; round++) {
      // Between batches: every edited definition gets a new domain through the API.
      for (const [instanceId, id] of edited) {
        const r = await call(w.admin, "PUT", `/api/v1/managed-certificates/${id}`, { domains: [`r${round}-${instanceId.slice(-6).toLowerCase()}.example.com`] });
        expect(r.status).toBe(200);
      }
      const before = { ...reader.stats };
      const configs = await Promise.all(agents.map((a) => syncConfig(a, { settingsVersion: 0 })));
      configs.forEach((config, i) => {
        const instanceId = agents[i].instanceId;
        expect(config).not.toBeNull();
        expect(config!.certificates.map((c) => c.id).sort()).toEqual(own.get(instanceId)!);
        const editedId = edited.get(instanceId);
        if (editedId) expect(config!.certificates.find((c) => c.id === editedId)?.domains).toEqual([`r${round}-${instanceId.slice(-6).toLowerCase()}.example.com`]);
      });
      // The syncs were answered by fewer queries than instances: batching happened.
      expect(reader.stats.instances - before.instances).toBe(N);
      expect(reader.stats.queries - before.queries).toBeLessThan(N);
    }
  });

  test("a definition changed while a batch is being gathered is in the answer; one asked after a batch is not served from it", async () => {
    const ca = await createCaAccount(w.admin, { title: "Gather CA" });
    const a = await addInstance(w);
    const b = await addInstance(w);
    const defOf = async (agent: FakeAgent, name: string) => {
      const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: agent.instanceId, name, domains: [`${name}.example.com`], caAccountId: ca.id, challenge: { type: "http-01", port: 8080 } });
      expect(r.status).toBe(201);
      return r.body.id as string;
    };
    const aId = await defOf(a, "gather-a");
    const bId = await defOf(b, "gather-b");
    const facts = (agent: FakeAgent) => ({ id: agent.instanceId!, groupName: null, settingsVersion: 1 });
    const { db } = w.hub.deps;
    const domainsIn = (config: Awaited<ReturnType<typeof instanceConfig>>, id: string) => config.certificates.find((c) => c.id === id)?.domains;

    // Both ask in the same turn, then a's definition changes before the batch's query runs:
    // the query starts after the change, so a's answer has it (and b's is b's own).
    const reader = definitionReaderOf(db);
    const queriesBefore = reader.stats.queries;
    const pa = instanceConfig(w.hub.deps, facts(a));
    const pb = instanceConfig(w.hub.deps, facts(b));
    expect(await updateManagedCertificateRow(db, aId, { domains: ["changed-while-gathering.example.com"] })).toBe(true);
    const [ca1, cb1] = await Promise.all([pa, pb]);
    expect(reader.stats.queries - queriesBefore).toBe(1);
    expect(domainsIn(ca1, aId)).toEqual(["changed-while-gathering.example.com"]);
    expect(ca1.certificates.map((c) => c.id)).toEqual([aId]);
    expect(cb1.certificates.map((c) => c.id)).toEqual([bId]);

    // After that batch answered: a change, then a new read, which must not be given the old rows.
    expect(await updateManagedCertificateRow(db, aId, { domains: ["changed-after-batch.example.com"] })).toBe(true);
    const [ca2, cb2] = await Promise.all([instanceConfig(w.hub.deps, facts(a)), instanceConfig(w.hub.deps, facts(b))]);
    expect(domainsIn(ca2, aId)).toEqual(["changed-after-batch.example.com"]);
    expect(domainsIn(cb2, bId)).toEqual(["gather-b.example.com"]);

    // The same instance asked twice in one batch: both answers are its definitions.
    const twice = await Promise.all([instanceConfig(w.hub.deps, facts(a)), instanceConfig(w.hub.deps, facts(a))]);
    for (const config of twice) expect(config.certificates.map((c) => c.id)).toEqual([aId]);
  });
});
