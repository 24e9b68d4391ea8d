// /api/v1/principals: security principals (users and applications/services) and their roles.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { getPrincipal, listPrincipals } from "../../db/principals";
import { listRoles } from "../../db/roles";
import type { HubEnv } from "../context";
import { addPrincipal, assignRoles, createPrincipalSchema, editPrincipal, endSessions, resetPassword, rolesSchema, updatePrincipalSchema } from "../core/principals";
import { actorOf } from "../middleware/auth";
import { validate } from "./validate";

const listQuery = z.object({
  q: z.string().max(100).optional(),
  type: z.enum(["user", "service"]).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const principalsApi = new Hono<HubEnv>()
  .get("/", validate("query", listQuery), async (c) => {
    const { rows, total } = await listPrincipals(c.get("deps").db, c.req.valid("query"));
    c.header("X-Total-Count", String(total));
    return c.json(rows);
  })
  .post("/", validate("json", createPrincipalSchema), async (c) => {
    // Rule failures (RuleError) become { "error" } in src/hub/api/index.ts.
    const id = await addPrincipal(c.get("deps").db, c.req.valid("json"), actorOf(c));
    return c.json(await getPrincipal(c.get("deps").db, id), 201);
  })
  .get("/:id", async (c) => {
    const p = await getPrincipal(c.get("deps").db, c.req.param("id"));
    return p ? c.json(p) : c.json({ error: "no such principal" }, 404);
  })
  .patch("/:id", validate("json", updatePrincipalSchema.strict()), async (c) => {
    const ok = await editPrincipal(c.get("deps").db, c.req.param("id"), c.req.valid("json"), actorOf(c));
    return ok ? c.json(await getPrincipal(c.get("deps").db, c.req.param("id"))) : c.json({ error: "no such principal" }, 404);
  })
  .put("/:id/roles", validate("json", z.object({ roles: rolesSchema }).strict()), async (c) => {
    const ok = await assignRoles(c.get("deps").db, c.req.param("id"), c.req.valid("json").roles, actorOf(c));
    return ok ? c.json(await getPrincipal(c.get("deps").db, c.req.param("id"))) : c.json({ error: "no such principal" }, 404);
  })
  .post("/:id/password", validate("json", z.object({ password: z.string() }).strict()), async (c) => {
    try {
      const ok = await resetPassword(c.get("deps").db, c.req.param("id"), c.req.valid("json").password, actorOf(c));
      return ok ? c.json({ ok: true }) : c.json({ error: "no such user" }, 404);
    } catch (err) {
      if (err instanceof z.ZodError) return c.json({ error: err.issues[0]?.message ?? "invalid password" }, 400);
      throw err;
    }
  });

principalsApi.post("/:id/sessions/revoke", async (c) => {
  const ended = await endSessions(c.get("deps").db, c.req.param("id"), actorOf(c));
  return ended === undefined ? c.json({ error: "no such principal" }, 404) : c.json({ ended });
});

export const rolesApi = new Hono<HubEnv>().get("/", async (c) => c.json(await listRoles(c.get("deps").db)));
