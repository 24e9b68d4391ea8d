// deriveStatus (cached, per instance) and statusSql (filtered, paginated lists) compute the
// same agent health; this table pins them together so a rule cannot change in only one.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { createApiToken, setApiTokenState } from "../../../src/db/api-tokens";
import { openHubDatabase } from "../../../src/db/client";
import { insertInstance, listInstances, updateInstance } from "../../../src/db/instances";
import { deriveStatus, OFFLINE_AFTER_INTERVALS } from "../../../src/hub/fleet/status";
import { tempDir } from "../../helpers";

test("deriveStatus and statusSql agree on every combination", async () => {
  const { db, close } = await openHubDatabase(`file:${join(tempDir("status-"), "hub.db")}`);
  try {
    const { ensureBuiltInRoles } = await import("../../../src/db/roles");
    await ensureBuiltInRoles(db);
    const { createPrincipal } = await import("../../../src/db/principals");
    const ownerId = await createPrincipal(db, { type: "service", title: "owner", roles: ["managed-instance"] });
    const keys = {
      active: (await createApiToken(db, { principalId: ownerId, title: "a", roleId: "managed-instance" })).id,
      revoked: (await createApiToken(db, { principalId: ownerId, title: "r", roleId: "managed-instance" })).id,
    };
    await setApiTokenState(db, keys.revoked, "revoked");
    const now = Date.now();
    const interval = 60;
    const edge = OFFLINE_AFTER_INTERVALS * interval * 1000;
    const cases: { state: "active" | "revoked"; conflict: boolean; seenAgo: number | null; key: keyof typeof keys | null }[] = [];
    for (const state of ["active", "revoked"] as const)
      for (const conflict of [false, true])
        for (const seenAgo of [null, 0, edge - 1000, edge + 1000, 10 * edge])
          for (const key of [null, "active", "revoked"] as const) cases.push({ state, conflict, seenAgo, key });
    const expected = new Map<string, string>();
    let n = 0;
    for (const c of cases) {
      const id = `inst_case_${n++}`;
      await insertInstance(db, id, { hostname: `h${n}`, os: "linux", arch: "x64", version: "0", publicKey: `pk${n}`, joiningKeyId: c.key ? keys[c.key] : null, groupName: null, syncIntervalSeconds: interval });
      const lastSeenAt = c.seenAgo === null ? null : now - c.seenAgo;
      await updateInstance(db, id, { state: c.state, identityConflict: c.conflict, lastSeenAt });
      expected.set(id, deriveStatus({ state: c.state, identityConflict: c.conflict, lastSeenAt, syncIntervalSeconds: interval }, c.key === "revoked" ? "revoked" : c.key ? "active" : null, now));
    }
    const listed = await listInstances(db, { limit: 500, now });
    const got = new Map(listed.rows.map((r) => [r.instance.id, r.status]));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
    expect(new Set(expected.values())).toEqual(new Set(["online", "offline", "revoked", "conflict"]));
  } finally {
    close();
  }
});
