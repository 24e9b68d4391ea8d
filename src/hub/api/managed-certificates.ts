// /api/v1/managed-certificates — certificate definitions for instances, their status as the
// agent reports it, and the renew / test / deploy / test-one-task actions (202: queued for the agent).
// Mounted with adminApi.route("/managed-certificates", managedCertificatesApi).
import { Hono } from "hono";
import { z } from "zod";
import type { HubEnv } from "../context";
import {
  createManagedCertificate,
  CreateManagedCertificateSchema,
  deleteManagedCertificate,
  getManagedCertificateDetail,
  listManagedCertificateViews,
  queueCertificateAction,
  queueTaskTest,
  updateManagedCertificate,
  UpdateManagedCertificateSchema,
} from "../core/managed-certificates";
import { actorOf } from "../middleware/auth";
import { validate } from "./validate";

const listQuery = z.object({
  instanceId: z.string().max(64).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

const taskParam = z.object({ id: z.string().min(1).max(64), index: z.coerce.number().int().min(0).max(31) });

export const managedCertificatesApi = new Hono<HubEnv>()
  .get("/", validate("query", listQuery), async (c) => c.json(await listManagedCertificateViews(c.get("deps"), c.req.valid("query"))))
  .post("/", validate("json", CreateManagedCertificateSchema), async (c) => c.json(await createManagedCertificate(c.get("deps"), actorOf(c), c.req.valid("json")), 201))
  .get("/:id", async (c) => c.json(await getManagedCertificateDetail(c.get("deps"), c.req.param("id"))))
  .put("/:id", validate("json", UpdateManagedCertificateSchema), async (c) => c.json(await updateManagedCertificate(c.get("deps"), actorOf(c), c.req.param("id"), c.req.valid("json"))))
  .delete("/:id", async (c) => {
    await deleteManagedCertificate(c.get("deps"), actorOf(c), c.req.param("id"));
    return c.json({ ok: true });
  })
  .post("/:id/renew", async (c) => c.json(await queueCertificateAction(c.get("deps"), actorOf(c), c.req.param("id"), "renew"), 202))
  .post("/:id/test", async (c) => c.json(await queueCertificateAction(c.get("deps"), actorOf(c), c.req.param("id"), "test"), 202))
  .post("/:id/deploy", async (c) => c.json(await queueCertificateAction(c.get("deps"), actorOf(c), c.req.param("id"), "deploy"), 202))
  .post("/:id/tasks/:index/test", validate("param", taskParam), async (c) => c.json(await queueTaskTest(c.get("deps"), actorOf(c), c.req.valid("param").id, c.req.valid("param").index), 202));
