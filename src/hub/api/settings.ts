// /api/v1/settings — registry settings at a scope: GET ?scope=&scopeId= lists that scope's own
// values; PUT /{key} {"scope","scopeId"?,"value"} sets one; DELETE /{key}?scope=&scopeId= removes it.
// The effective values of one instance are GET /api/v1/instances/{id}/settings.
// Mounted with adminApi.route("/settings", settingsApi).
import { Hono } from "hono";
import { z } from "zod";
import { SETTING_KEYS, SETTINGS } from "../../protocol/settings";
import type { HubEnv } from "../context";
import { ScopeInputSchema } from "../core/scope";
import { listScopeSettings, setSetting, unsetSetting } from "../core/settings";
import { actorOf } from "../middleware/auth";
import { validate } from "./validate";

const putBody = ScopeInputSchema.extend({ value: z.unknown() }).strict();
const scopeQuery = ScopeInputSchema.extend({ scope: ScopeInputSchema.shape.scope.default("global") });

export const settingsApi = new Hono<HubEnv>()
  .get("/", validate("query", scopeQuery), async (c) => c.json(await listScopeSettings(c.get("deps"), c.req.valid("query"))))
  /** The registry: each key's label, help, default and allowed scopes (for forms). */
  .get("/registry", (c) =>
    c.json(SETTING_KEYS.map((key) => ({ key, label: SETTINGS[key].label, help: SETTINGS[key].help, default: SETTINGS[key].default, scopes: SETTINGS[key].scopes }))),
  )
  .put("/:key", validate("json", putBody), async (c) => {
    const body = c.req.valid("json");
    if (!("value" in body)) return c.json({ error: 'invalid json: value: required (use DELETE to remove a setting)' }, 400);
    return c.json(await setSetting(c.get("deps"), actorOf(c), c.req.param("key"), body, body.value));
  })
  .delete("/:key", validate("query", scopeQuery), async (c) => {
    await unsetSetting(c.get("deps"), actorOf(c), c.req.param("key"), c.req.valid("query"));
    return c.json({ ok: true });
  });
