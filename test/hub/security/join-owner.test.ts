// Security review #7: a joining key must not outlive its owner's changes. Joins (and the
// retired key's one re-join after an identity reset) need the owning principal enabled and
// holding the key's role; instances already joined keep working (revoking the key is what
// cuts them off), and the Users page says so where an admin disables a principal.
import { describe, expect, test } from "bun:test";
import { useSignedInHub } from "../../helpers/hub-fixture";
import { FACTS, FakeAgent } from "../agent-api.fixtures";

const fx = useSignedInHub();

/** A service principal with the managed-instance role and a joining key it owns. */
async function ownerWithKey() {
  const p = await fx.admin.json("/api/v1/principals", "POST", { type: "service", title: `fleet ${Math.random().toString(36).slice(2, 8)}`, roles: ["managed-instance"] });
  expect(p.status).toBe(201);
  const owner = (await p.json()) as { id: string };
  const k = await fx.admin.json("/api/v1/tokens", "POST", { title: "owned key", principalId: owner.id });
  expect(k.status).toBe(201);
  return { owner, key: (await k.json()) as { id: string; clientId: string; secret: string } };
}
const setRoles = (id: string, roles: string[]) => fx.admin.json(`/api/v1/principals/${id}/roles`, "PUT", { roles });
const setDisabled = (id: string, disabled: boolean) => fx.admin.json(`/api/v1/principals/${id}`, "PATCH", { disabled });
const agent = () => new FakeAgent(fx.hub.url);

describe("join-owner: the joining key's owner", () => {
  test("losing the managed-instance role stops new joins; getting it back restores them", async () => {
    const { owner, key } = await ownerWithKey();
    const joined = await agent().joined(key.clientId, key.secret);
    expect((await setRoles(owner.id, [])).status).toBe(200);

    const refused = await agent().join(key.clientId, key.secret);
    expect(refused.status).toBe(403);
    expect((await refused.json()).code).toBe("key-wrong-role");
    // Already joined: keeps working (the key was not revoked).
    expect((await joined.sync({ settingsVersion: 1 })).status).toBe(204);

    expect((await setRoles(owner.id, ["managed-instance"])).status).toBe(200);
    expect((await agent().join(key.clientId, key.secret)).status).toBe(200);
  });

  test("a disabled owner's key joins nothing; joined instances keep syncing", async () => {
    const { owner, key } = await ownerWithKey();
    const joined = await agent().joined(key.clientId, key.secret);
    expect((await setDisabled(owner.id, true)).status).toBe(200);
    const refused = await agent().join(key.clientId, key.secret);
    expect(refused.status).toBe(403);
    expect((await refused.json()).code).toBe("key-disabled");
    expect((await joined.sync({ settingsVersion: 1 })).status).toBe(204);
  });

  test("the retired key's re-join after an identity reset is refused when the owner lost the role", async () => {
    const { owner, key } = await ownerWithKey();
    const original = await agent().joined(key.clientId, key.secret);
    const stale = original.clone();
    stale.bootId = "other-process-boot-0002";
    expect((await fx.admin.fetch(`/api/v1/instances/${original.instanceId}/reset-identity`, { method: "POST" })).status).toBe(200);
    const next = agent().keyPair;
    expect((await original.send("rekey", { newPublicKey: next.publicKey, facts: FACTS })).status).toBe(200);
    original.keyPair = next;

    expect((await setRoles(owner.id, [])).status).toBe(200);
    const refused = await stale.send("rekey", { newPublicKey: agent().keyPair.publicKey, facts: FACTS });
    expect(refused.status).toBe(403);
    expect((await refused.json()).code).toBe("key-wrong-role");
    expect((await setDisabled(owner.id, true)).status).toBe(200);
    expect((await setRoles(owner.id, ["managed-instance"])).status).toBe(200);
    const stillRefused = await stale.send("rekey", { newPublicKey: agent().keyPair.publicKey, facts: FACTS });
    expect(stillRefused.status).toBe(403);
    expect((await stillRefused.json()).code).toBe("key-disabled");
  });

  test("the Users page says disabling cuts off new joins and what happens to joined instances", async () => {
    const { owner } = await ownerWithKey();
    const dialog = await (await fx.admin.fetch(`/settings/users/${owner.id}/edit`)).text();
    expect(dialog).toContain("joining keys accept no new joins");
    expect(dialog).toContain("Instances already joined with its keys keep working");
    expect((await setDisabled(owner.id, true)).status).toBe(200);
    const list = await (await fx.admin.fetch(`/settings/users?q=${encodeURIComponent("fleet")}`)).text();
    const row = list.slice(list.indexOf(`data-principal-id="${owner.id}"`));
    expect(row.slice(0, row.indexOf("</tr>"))).toContain("no new joins; joined instances keep working");
  });
});
