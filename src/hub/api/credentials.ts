// /api/v1/credentials — stored credentials. Write-only secrets: no response carries one.
// PATCH /:id also moves it to another scope ("scope", "scopeId"): refused (409, field "scope")
// while a certificate or CA account using it would lose access.
// Mounted with adminApi.route("/credentials", credentialsApi).
import { Hono } from "hono";
import { z } from "zod";
import { CREDENTIAL_TYPES } from "../../protocol/certificates";
import type { HubEnv } from "../context";
import { createCredential, CreateCredentialSchema, deleteCredential, getCredential, listCredentials, PatchCredentialSchema, updateCredentialRule, UpdateCredentialSchema } from "../core/credentials";
import { actorOf } from "../middleware/auth";
import { scopeFilter, ScopeQuerySchema } from "./scope-query";
import { validate } from "./validate";

const listQuery = ScopeQuerySchema.extend({ type: z.enum(CREDENTIAL_TYPES).optional() });

export const credentialsApi = new Hono<HubEnv>()
  .get("/", validate("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const { db } = c.get("deps");
    return c.json(await listCredentials(c.get("deps"), { ...(await scopeFilter(db, q)), type: q.type }));
  })
  .post("/", validate("json", CreateCredentialSchema), async (c) => c.json(await createCredential(c.get("deps"), actorOf(c), c.req.valid("json")), 201))
  .get("/:id", async (c) => c.json(await getCredential(c.get("deps"), c.req.param("id"))))
  .put("/:id", validate("json", UpdateCredentialSchema), async (c) => c.json(await updateCredentialRule(c.get("deps"), actorOf(c), c.req.param("id"), c.req.valid("json"))))
  .patch("/:id", validate("json", PatchCredentialSchema), async (c) => c.json(await updateCredentialRule(c.get("deps"), actorOf(c), c.req.param("id"), c.req.valid("json"))))
  .delete("/:id", async (c) => {
    await deleteCredential(c.get("deps"), actorOf(c), c.req.param("id"));
    return c.json({ ok: true });
  });
