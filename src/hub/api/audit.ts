// /api/v1/audit: the audit log, newest first; page with ?before=<id>.
import { Hono } from "hono";
import { z } from "zod";
import { listAudit } from "../../db/audit";
import type { HubEnv } from "../context";
import { validate } from "./validate";

const query = z.object({
  q: z.string().max(100).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const auditApi = new Hono<HubEnv>().get("/", validate("query", query), async (c) => {
  const { rows, more } = await listAudit(c.get("deps").db, c.req.valid("query"));
  if (more && rows.length) c.header("X-Next-Before", String(rows[rows.length - 1].id));
  return c.json(rows.map((r) => ({ ...r, detail: r.detail ? JSON.parse(r.detail) : null })));
});

export const meApi = new Hono<HubEnv>().get("/", (c) => {
  // csrfToken lets same-origin scripts call the API with a session (no CORS, so other origins cannot read it).
  const { principalId, label, roles, via, csrfToken } = c.get("auth");
  return c.json({ principalId, label, roles, via, csrfToken });
});
