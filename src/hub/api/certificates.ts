// /api/v1/certificates — every certificate reported by every instance (managed and external).
// Mounted with adminApi.route("/certificates", certificatesApi). Paging and ordering are the
// Certificates page's (db/certificate-list.ts): sorted by expiry it walks the not_after index
// instead of sorting the fleet, so a page costs the same at 100 or 100,000 certificates.
import { Hono } from "hono";
import { z } from "zod";
import { listCertificatePage, SORTS, SOURCES } from "../../db/certificate-list";
import { certificatesByKeys, certificateView } from "../../db/certificates";
import { CERT_STATUSES } from "../../protocol/certificates";
import type { HubEnv } from "../context";
import { validate } from "./validate";

const listQuery = z.object({
  instanceId: z.string().max(64).optional(),
  group: z.string().max(128).optional(),
  status: z.enum(CERT_STATUSES).optional(),
  source: z.enum(SOURCES).optional(),
  q: z.string().max(200).optional(),
  sort: z.enum(SORTS).default("expiry"),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const certificatesApi = new Hono<HubEnv>().get("/", validate("query", listQuery), async (c) => {
  const { limit, ...filter } = c.req.valid("query");
  const db = c.get("deps").db;
  const page = await listCertificatePage(db, filter, limit);
  const rows = await certificatesByKeys(db, page.rows);
  c.header("X-Total-Count", String(page.total));
  return c.json(rows.map((r) => certificateView(r.cert, r.hostname)));
});
