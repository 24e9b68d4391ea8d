// /api/v1/tokens: API tokens and joining keys.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { listApiTokens, tokenView } from "../../db/api-tokens";
import { getPrincipal } from "../../db/principals";
import { ROLE_IDS } from "../../db/roles";
import type { HubEnv } from "../context";
import { changeTokenState, findToken, issueToken, issueTokenSchema } from "../core/tokens";
import { actorOf } from "../middleware/auth";
import { validate } from "./validate";

const listQuery = z.object({
  q: z.string().max(100).optional(),
  role: z.enum(ROLE_IDS).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const tokensApi = new Hono<HubEnv>()
  .get("/", validate("query", listQuery), async (c) => {
    const q = c.req.valid("query");
    const { rows, total } = await listApiTokens(c.get("deps").db, { q: q.q, roleId: q.role, offset: q.offset, limit: q.limit });
    c.header("X-Total-Count", String(total));
    return c.json(rows.map((r) => tokenView(r)));
  })
  .post("/", validate("json", issueTokenSchema.strict()), async (c) => {
    // A rule failure (RuleError) becomes { "error" } in src/hub/api/index.ts.
    const t = await issueToken(c.get("deps").db, c.req.valid("json"), actorOf(c));
    // The only time the secret is ever returned.
    return c.json({ id: t.id, clientId: t.clientId, secret: t.secret, title: t.title, role: t.role, group: t.group }, 201);
  })
  .get("/:id", async (c) => {
    const { db } = c.get("deps");
    const t = await findToken(db, c.req.param("id"));
    if (!t) return c.json({ error: "no such token" }, 404);
    return c.json(tokenView({ ...t, principalTitle: (await getPrincipal(db, t.principalId))?.title }));
  })
  .post("/:id/revoke", (c) => setState(c, "revoked"))
  .post("/:id/retire", (c) => setState(c, "retired"));

async function setState(c: Context<HubEnv>, state: "revoked" | "retired") {
  const { db, fleet } = c.get("deps");
  const t = await changeTokenState(db, c.req.param("id") ?? "", state, actorOf(c));
  if (!t) return c.json({ error: "no such token" }, 404);
  fleet.invalidateKey(t.id);
  return c.json(tokenView(t));
}
