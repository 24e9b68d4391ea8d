// /api/v1/instances — joined agents, their commands and admin actions.
// Mounted with adminApi.route("/instances", instancesApi); auth is set by then.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { certificateView, listCertificates } from "../../db/certificates";
import { commandView, listCommands } from "../../db/commands";
import { getInstanceView, INSTANCE_STATUSES, listInstances } from "../../db/instances";
import { COMMAND_TYPES } from "../../protocol";
import type { HubEnv } from "../context";
import { actorOf } from "../middleware/auth";
import { instanceView } from "../fleet/view";
import { externalManagersView, refreshExternalScan } from "../core/external-managers";
import { checkCommandPayload } from "../core/managed-certificates";
import { effectiveSettings } from "../core/settings";
import { queueCommand, reinstateInstance, removeInstance, renameInstance, resetIdentity, revokeInstance } from "../core/instances";
import { validate } from "./validate";

const listQuery = z.object({
  q: z.string().max(200).optional(),
  status: z.enum(INSTANCE_STATUSES as ["online", "offline", "revoked", "conflict"]).optional(),
  group: z.string().max(100).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

// An integer, or a 400: `limit=1.5` reached SQLite as LIMIT 1.5 (datatype mismatch, a 500).
const commandsQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

const commandBody = z
  .object({
    type: z.enum(COMMAND_TYPES),
    payload: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const namesBody = z
  .object({
    displayName: z.string().trim().max(100).nullable().optional(),
    labels: z.array(z.string().trim().min(1).max(40)).max(10).optional(),
  })
  .strict();

type Ctx = Context<HubEnv>;

/** An admin action from core/instances.ts; a refusal (RuleError) becomes { "error" } in api/index.ts. */
async function act(c: Ctx, fn: typeof revokeInstance) {
  await fn(c.get("deps"), c.req.param("id") ?? "", actorOf(c));
  return c.json({ ok: true }, 200);
}

async function queue(c: Ctx, type: (typeof COMMAND_TYPES)[number], payload: unknown) {
  const { db, fleet } = c.get("deps");
  const id = c.req.param("id") ?? "";
  const row = await getInstanceView(db, id);
  if (!row) return c.json({ error: "instance not found" }, 404);
  // Revoked, cut off with its key, scripts disabled, payload shape: core/instances.ts queueCommand refuses.
  await checkCommandPayload(c.get("deps"), id, type, payload);
  const cmd = await queueCommand(c.get("deps"), id, type, payload ?? {}, actorOf(c));
  if (!cmd) return c.json({ error: "instance not found" }, 404);
  return c.json({ commandId: cmd.id, seq: cmd.seq, type, status: "queued" }, 202);
}

export const instancesApi = new Hono<HubEnv>()
  .get("/", validate("query", listQuery), async (c) => {
    const { db, fleet } = c.get("deps");
    const q = c.req.valid("query");
    const { rows, total } = await listInstances(db, q);
    c.header("X-Total-Count", String(total));
    const now = Date.now();
    return c.json(rows.map((r) => instanceView(r, fleet, now)));
  })
  .get("/:id", async (c) => {
    const { db, fleet } = c.get("deps");
    const id = c.req.param("id");
    const row = await getInstanceView(db, id);
    if (!row) return c.json({ error: "instance not found" }, 404);
    const facts = { id, groupName: row.instance.groupName };
    const [commands, certs, externalManagers] = await Promise.all([
      listCommands(db, id, 25),
      listCertificates(db, { instanceId: id, limit: 1000 }),
      externalManagersView(c.get("deps"), facts),
    ]);
    return c.json({
      ...instanceView(row, fleet),
      recentCommands: commands.map(commandView),
      certificates: certs.rows.map((r) => certificateView(r.cert, r.hostname)),
      externalManagers,
    });
  })
  .get("/:id/settings", async (c) => {
    const { db } = c.get("deps");
    const row = await getInstanceView(db, c.req.param("id"));
    if (!row) return c.json({ error: "instance not found" }, 404);
    return c.json(await effectiveSettings(c.get("deps"), { id: row.instance.id, groupName: row.instance.groupName }));
  })
  .post("/:id/external-refresh", async (c) => c.json(await refreshExternalScan(c.get("deps"), actorOf(c), c.req.param("id")), 202))
  .get("/:id/commands", validate("query", commandsQuery), async (c) => {
    const { db } = c.get("deps");
    const id = c.req.param("id");
    if (!(await getInstanceView(db, id))) return c.json({ error: "instance not found" }, 404);
    const { limit } = c.req.valid("query");
    return c.json((await listCommands(db, id, limit)).map(commandView));
  })
  .post("/:id/commands", validate("json", commandBody), (c) => {
    const body = c.req.valid("json");
    return queue(c, body.type, body.payload);
  })
  .post("/:id/renew-now", (c) => queue(c, "renew-now", {}))
  .post("/:id/revoke", (c) => act(c, revokeInstance))
  .post("/:id/reinstate", (c) => act(c, reinstateInstance))
  .post("/:id/reset-identity", (c) => act(c, resetIdentity))
  .post("/:id/remove", (c) => act(c, removeInstance))
  // The admin's display name and labels (the hostname stays what the agent reports).
  .patch("/:id", validate("json", namesBody), async (c) => {
    const { db, fleet } = c.get("deps");
    const id = c.req.param("id");
    const row = await getInstanceView(db, id);
    if (!row) return c.json({ error: "instance not found" }, 404);
    const body = c.req.valid("json");
    const current = instanceView(row, fleet);
    await renameInstance(c.get("deps"), id, {
      displayName: body.displayName === undefined ? current.displayName : body.displayName || null,
      labels: body.labels === undefined ? current.labels : [...new Set(body.labels)],
    }, actorOf(c));
    const fresh = await getInstanceView(db, id);
    return c.json(instanceView(fresh!, fleet));
  })
  .delete("/:id", (c) => act(c, removeInstance));
