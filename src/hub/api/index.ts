// The JSON admin API under /api/v1: one router per resource, behind API auth.
import { describeStorageError } from "../../db/storage-errors";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { HubEnv } from "../context";
import { requireApiAuth } from "../middleware/auth";
import { RuleError } from "../core/errors";
import { auditApi, meApi } from "./audit";
import { caAccountsApi } from "./ca-accounts";
import { certificatesApi } from "./certificates";
import { commandsApi } from "./commands";
import { credentialsApi } from "./credentials";
import { instancesApi } from "./instances";
import { managedCertificatesApi } from "./managed-certificates";
import { principalsApi, rolesApi } from "./principals";
import { settingsApi } from "./settings";
import { tokensApi } from "./tokens";

export const adminApi = new Hono<HubEnv>();
adminApi.use("*", bodyLimit({ maxSize: 256 * 1024, onError: (c) => c.json({ error: "request body too large (max 256 KiB)" }, 413) }));
adminApi.use("*", requireApiAuth);

adminApi.route("/me", meApi);
adminApi.route("/tokens", tokensApi);
adminApi.route("/principals", principalsApi);
adminApi.route("/roles", rolesApi);
adminApi.route("/audit", auditApi);
adminApi.route("/instances", instancesApi);
adminApi.route("/certificates", certificatesApi);
adminApi.route("/commands", commandsApi);
adminApi.route("/credentials", credentialsApi);
adminApi.route("/ca-accounts", caAccountsApi);
adminApi.route("/managed-certificates", managedCertificatesApi);
adminApi.route("/settings", settingsApi);

// Rule failures (src/hub/core) become the contract's { "error" } with their 4xx status, here
// once for every resource; anything else is a 500 without internals.
adminApi.onError((err, c) => {
  if (err instanceof RuleError) return c.json(err.field ? { error: err.message, field: err.field } : { error: err.message }, err.status);
  if (err instanceof HTTPException) return c.json({ error: err.message || "request rejected" }, err.status);
  const storage = describeStorageError(err);
  if (storage) return c.json({ error: storage }, 503);
  console.error(`certhub: ${c.req.method} ${c.req.path} failed:`, err);
  return c.json({ error: "internal error" }, 500);
});
