// Paths, labels and small helpers the Certificates modules share.
import type { Context } from "hono";
import type { HubEnv } from "../../../context";
import { MANAGED_ID_PREFIX } from "../../../../db/certificates";

export type Ctx = Context<HubEnv>;

export const BASE = "/certificates";

/** The detail page of a listed certificate: hub-defined ones by id, others by instance + id. */
export function detailHref(r: { instanceId: string; id: string; source: string }): string {
  if (r.source === "managed" && r.id.startsWith(MANAGED_ID_PREFIX)) return `${BASE}/${encodeURIComponent(r.id)}`;
  return `${BASE}/external/${encodeURIComponent(r.instanceId)}/${encodeURIComponent(r.id)}`;
}

const CLIENTS: Record<string, string> = { certbot: "certbot", "acme.sh": "acme.sh", "posh-acme": "Posh-ACME", "simple-acme": "simple-acme", "win-acme": "win-acme" };

/** "certhub" for managed certificates, else the external client's name. */
export function SOURCE_LABEL(source: string): string {
  return source === "managed" ? "certhub (managed)" : (CLIENTS[source] ?? source);
}
