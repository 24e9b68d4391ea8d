// Scoped settings: resolution global < group < instance with the origin of each value, and
// config delivery — a change reaches exactly the instances of its scope at their next sync
// (a global change all 100 instances of a fleet).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { call, addInstance, startWorld, syncConfig, type World } from "./fixtures";

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.hub.stop());

const put = (key: string, body: Record<string, unknown>) => call(w.admin, "PUT", `/api/v1/settings/${key}`, body);
const effective = async (id: string) => {
  const r = await call(w.admin, "GET", `/api/v1/instances/${id}/settings`);
  expect(r.status).toBe(200);
  return Object.fromEntries((r.body as any[]).map((e) => [e.key, e]));
};

describe("scope resolution", () => {
  test("narrowest scope wins, each value shows where it came from; unset falls back a level", async () => {
    const a = await addInstance(w, { group: "res-eu" }); // global + group + instance
    const b = await addInstance(w, { group: "res-eu" }); // global + group
    const c = await addInstance(w, { group: "res-us" }); // global only
    const d = await addInstance(w); // no group

    expect((await put("renewalLifetimePercent", { scope: "global", value: 70 })).status).toBe(200);
    expect((await put("renewalLifetimePercent", { scope: "group", scopeId: "res-eu", value: 60 })).status).toBe(200);
    expect((await put("renewalLifetimePercent", { scope: "instance", scopeId: a.instanceId, value: 50 })).status).toBe(200);

    const table = [
      [a, 50, "instance", a.instanceId],
      [b, 60, "group", "res-eu"],
      [c, 70, "global", undefined],
      [d, 70, "global", undefined],
    ] as const;
    for (const [agent, value, scope, scopeId] of table) {
      const e = await effective(agent.instanceId);
      expect(e.renewalLifetimePercent).toMatchObject({ value, scope });
      expect(e.renewalLifetimePercent.scopeId).toBe(scopeId);
      // Untouched keys come from the registry default.
      expect(e.defaultKeyType).toMatchObject({ value: "ecdsa-p256", scope: "default" });
      expect((await syncConfig(agent))!.settings.renewalLifetimePercent).toBe(value);
    }

    // Removing the instance value: the group's shows again, and the agent is told.
    const del = await call(w.admin, "DELETE", `/api/v1/settings/renewalLifetimePercent?scope=instance&scopeId=${a.instanceId}`);
    expect(del.status).toBe(200);
    expect((await effective(a.instanceId)).renewalLifetimePercent).toMatchObject({ value: 60, scope: "group", scopeId: "res-eu" });
    expect((await syncConfig(a))!.settings.renewalLifetimePercent).toBe(60);

    // A scope's own values, as stored.
    const own = await call(w.admin, "GET", "/api/v1/settings?scope=group&scopeId=res-eu");
    expect(own.status).toBe(200);
    expect(own.body).toEqual([expect.objectContaining({ key: "renewalLifetimePercent", value: 60, scope: "group", scopeId: "res-eu" })]);
    await call(w.admin, "DELETE", "/api/v1/settings/renewalLifetimePercent?scope=group&scopeId=res-eu");
    await call(w.admin, "DELETE", "/api/v1/settings/renewalLifetimePercent?scope=global");
  });

  test("unknown keys, bad values and missing scope ids are 400 with a clear message; nothing is stored", async () => {
    const inst = await addInstance(w);
    const unknown = await put("noSuchSetting", { scope: "global", value: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toContain('unknown setting "noSuchSetting"');
    const bad = await put("renewalLifetimePercent", { scope: "global", value: 150 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('invalid value for "renewalLifetimePercent"');
    const badManager = await put("externalManagers", { scope: "global", value: { certbot: { enabled: "yes" } } });
    expect(badManager.status).toBe(400);
    const noId = await put("defaultKeyType", { scope: "group", value: "rsa-2048" });
    expect(noId.status).toBe(400);
    expect(noId.body.error).toContain("needs a scopeId");
    const ghost = await put("defaultKeyType", { scope: "instance", scopeId: "inst_nope", value: "rsa-2048" });
    expect(ghost.status).toBe(400);
    expect(ghost.body.error).toContain("no instance with id inst_nope");
    const gone = await call(w.admin, "DELETE", "/api/v1/settings/defaultKeyType?scope=global");
    expect(gone.status).toBe(404);
    expect((await effective(inst.instanceId)).renewalLifetimePercent.scope).toBe("default");
  });
});

describe("settings used by the rules", () => {
  test("default key type and default contact email fill in what a certificate or CA account leaves out", async () => {
    const inst = await addInstance(w, { group: "defaults-g" });
    const ca = await call(w.admin, "POST", "/api/v1/ca-accounts", { title: "no email", directoryUrl: "https://127.0.0.1:14000/dir", scope: "global" });
    expect(ca.status).toBe(201);
    expect((await put("defaultKeyType", { scope: "group", scopeId: "defaults-g", value: "ecdsa-p384" })).status).toBe(200);
    expect((await put("defaultContactEmail", { scope: "instance", scopeId: inst.instanceId, value: "certs@example.com" })).status).toBe(200);
    const cert = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: inst.instanceId, name: "d", domains: ["d.example.com"], caAccountId: ca.body.id, challenge: { type: "http-01" } });
    expect(cert.status).toBe(201);
    expect(cert.body.keyType).toBe("ecdsa-p384");
    const cfg = (await syncConfig(inst))!;
    expect(cfg.certificates[0].keyType).toBe("ecdsa-p384");
    expect(cfg.caAccounts.find((a) => a.id === ca.body.id)!.email).toBe("certs@example.com");
    await call(w.admin, "DELETE", "/api/v1/managed-certificates/" + cert.body.id);
    await call(w.admin, "DELETE", "/api/v1/ca-accounts/" + ca.body.id);
  });
});

describe("delivery", () => {
  test("a global change reaches all 100 instances at their next sync; group and instance changes exactly theirs", async () => {
    const fleet = [] as Awaited<ReturnType<typeof addInstance>>[];
    for (let i = 0; i < 100; i++) fleet.push(await addInstance(w, { group: i < 30 ? "dl-blue" : i < 50 ? "dl-green" : null }));
    // Every agent first takes the config it has now; after that an unchanged sync is 204.
    for (const a of fleet) expect(await syncConfig(a)).not.toBeNull();
    expect((await Promise.all(fleet.map((a) => syncConfig(a)))).every((cfg) => cfg === null)).toBe(true);

    const t0 = performance.now();
    expect((await put("defaultContactEmail", { scope: "global", value: "pki@example.com" })).status).toBe(200);
    const bumpMs = performance.now() - t0;
    const got = await Promise.all(fleet.map((a) => syncConfig(a)));
    expect(got.every((cfg) => cfg?.settings.defaultContactEmail === "pki@example.com")).toBe(true);
    console.log(`global setting → 100 instances: write+bump ${bumpMs.toFixed(1)} ms`);

    // Group: exactly the 30 blue instances get a new config; everyone else's sync is unchanged.
    expect((await put("defaultKeyType", { scope: "group", scopeId: "dl-blue", value: "rsa-3072" })).status).toBe(200);
    const afterGroup = await Promise.all(fleet.map((a) => syncConfig(a)));
    afterGroup.forEach((cfg, i) => {
      if (i < 30) expect(cfg?.settings.defaultKeyType).toBe("rsa-3072");
      else expect(cfg).toBeNull();
    });

    // Instance: exactly one.
    expect((await put("renewalDaysBeforeExpiry", { scope: "instance", scopeId: fleet[42].instanceId, value: 20 })).status).toBe(200);
    const afterOne = await Promise.all(fleet.map((a) => syncConfig(a)));
    afterOne.forEach((cfg, i) => {
      if (i === 42) expect(cfg?.settings.renewalDaysBeforeExpiry).toBe(20);
      else expect(cfg).toBeNull();
    });
  }, 60_000); // 100 agents × 4 rounds of signed syncs; slow on a loaded machine
});
