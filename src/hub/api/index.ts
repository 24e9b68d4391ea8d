// The JSON admin API under /api/v1: one router per resource, behind API auth.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { HubEnv } from "../context";
import { requireApiAuth } from "../middleware/auth";
import { auditApi, meApi } from "./audit";
import { certificatesApi } from "./certificates";
import { commandsApi } from "./commands";
import { instancesApi } from "./instances";
import { principalsApi, rolesApi } from "./principals";
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
