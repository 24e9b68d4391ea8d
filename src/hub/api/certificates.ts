// /api/v1/certificates — every certificate reported by every instance.
// Mounted with adminApi.route("/certificates", certificatesApi).
import { Hono } from "hono";
import { z } from "zod";
import { certificateView, listCertificates } from "../../db/certificates";
import type { HubEnv } from "../context";
import { validate } from "./validate";

const listQuery = z.object({
  instanceId: z.string().max(64).optional(),
  status: z.string().max(32).optional(),
  source: z.string().max(32).optional(),
  q: z.string().max(200).optional(),
  sort: z.enum(["expiry", "-expiry", "name", "instance"]).default("expiry"),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const certificatesApi = new Hono<HubEnv>().get("/", validate("query", listQuery), async (c) => {
  const q = c.req.valid("query");
  const { rows, total } = await listCertificates(c.get("deps").db, q);
  c.header("X-Total-Count", String(total));
  return c.json(rows.map((r) => certificateView(r.cert, r.hostname)));
});
