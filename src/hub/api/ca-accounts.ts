// /api/v1/ca-accounts — ACME CA accounts (+ /presets: the well-known CAs' directory URLs).
// PATCH /:id also moves it (and its EAB credential) to another scope ("scope", "scopeId"):
// refused (409, field "scope") while a certificate using it would lose access. Mounted with adminApi.route("/ca-accounts", caAccountsApi).
import { Hono } from "hono";
import type { HubEnv } from "../context";
import {
  CA_PRESETS,
  createCaAccount,
  CreateCaAccountSchema,
  deleteCaAccount,
  getCaAccountDetail,
  listCaAccountViews,
  PatchCaAccountSchema,
  updateCaAccountRule,
  UpdateCaAccountSchema,
} from "../core/ca-accounts";
import { actorOf } from "../middleware/auth";
import { scopeFilter, ScopeQuerySchema } from "./scope-query";
import { validate } from "./validate";

export const caAccountsApi = new Hono<HubEnv>()
  .get("/presets", (c) => c.json(CA_PRESETS))
  .get("/", validate("query", ScopeQuerySchema), async (c) => {
    const { db } = c.get("deps");
    return c.json(await listCaAccountViews(c.get("deps"), await scopeFilter(db, c.req.valid("query"))));
  })
  .post("/", validate("json", CreateCaAccountSchema), async (c) => c.json(await createCaAccount(c.get("deps"), actorOf(c), c.req.valid("json")), 201))
  .get("/:id", async (c) => c.json(await getCaAccountDetail(c.get("deps"), c.req.param("id"))))
  .put("/:id", validate("json", UpdateCaAccountSchema), async (c) => c.json(await updateCaAccountRule(c.get("deps"), actorOf(c), c.req.param("id"), c.req.valid("json"))))
  .patch("/:id", validate("json", PatchCaAccountSchema), async (c) => c.json(await updateCaAccountRule(c.get("deps"), actorOf(c), c.req.param("id"), c.req.valid("json"))))
  .delete("/:id", async (c) => {
    await deleteCaAccount(c.get("deps"), actorOf(c), c.req.param("id"));
    return c.json({ ok: true });
  });
