// /api/v1/commands/{id} — one queued command and its result (for scripts that queued it).
// Mounted with adminApi.route("/commands", commandsApi).
import { Hono } from "hono";
import { commandView, getCommand } from "../../db/commands";
import type { HubEnv } from "../context";

export const commandsApi = new Hono<HubEnv>().get("/:id", async (c) => {
  const row = await getCommand(c.get("deps").db, c.req.param("id"));
  return row ? c.json(commandView(row)) : c.json({ error: "command not found" }, 404);
});
