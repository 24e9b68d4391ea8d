// Local API routes (after the guard):
//   GET  /api/system/status
//   POST /api/system/hub/join   {"clientId","secret","url"[,"fingerprint"]}
//   POST /api/system/hub/leave
//   GET  /api/system/commands   executed commands, oldest first (diagnostics)
import { z } from "zod";
import { normalizeFingerprint } from "../../protocol/fingerprint";
import type { Agent } from "../agent";
import { checkJoinSecret, HubClientError, normalizeHubUrl } from "../hub-client";
import { JOIN_WARNING } from "../warning";

const MAX_BODY = 64 * 1024;

const JoinBody = z.object({
  clientId: z.string().trim().min(1, "clientId is required").max(128),
  secret: z.string().trim().min(1, "secret is required").max(256),
  url: z.string().trim().min(1, "url is required").max(2048),
  fingerprint: z.string().trim().max(200).optional().nullable(),
});

const CommandsQuery = z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(1000) });

const json = (status: number, body: unknown) => Response.json(body, { status });
const error = (status: number, message: string, code?: string) => json(status, code ? { error: message, code } : { error: message });

async function readBody(req: Request): Promise<{ ok: true; value: unknown } | { ok: false; res: Response }> {
  const len = Number(req.headers.get("content-length") ?? 0);
  if (len > MAX_BODY) return { ok: false, res: error(413, `request body exceeds ${MAX_BODY} bytes`) };
  const text = await req.text();
  if (text.length > MAX_BODY) return { ok: false, res: error(413, `request body exceeds ${MAX_BODY} bytes`) };
  try {
    return { ok: true, value: text.trim() ? JSON.parse(text) : {} };
  } catch {
    return { ok: false, res: error(400, "request body is not valid JSON", "bad-json") };
  }
}

/** Hub-side refusals and connection problems → a clear 4xx for whoever ran the join. */
function joinError(err: unknown): Response {
  if (!(err instanceof HubClientError)) return error(500, `join failed: ${err instanceof Error ? err.message : String(err)}`);
  switch (err.kind) {
    case "hub":
      if (err.status === 429) return error(429, err.message, "rate-limited");
      if (err.status === 400 || err.status === 413) return error(400, `the hub rejected the join request: ${err.message}`, err.code);
      return error(403, err.message, err.code ?? "join-refused");
    case "unreachable":
      return error(422, err.message, "hub-unreachable");
    case "tls":
      return error(422, err.message, "tls-untrusted");
    case "fingerprint-mismatch":
      return error(422, err.message, "fingerprint-mismatch");
    case "bad-response":
      return error(422, err.message, "not-a-hub");
  }
}

export async function route(req: Request, agent: Agent): Promise<Response> {
  const { pathname } = new URL(req.url);
  const method = req.method;

  if (pathname === "/api/system/status") {
    if (method !== "GET") return error(405, "use GET");
    return json(200, await agent.status());
  }

  if (pathname === "/api/system/hub/join") {
    if (method !== "POST") return error(405, "use POST");
    const body = await readBody(req);
    if (!body.ok) return body.res;
    const parsed = JoinBody.safeParse(body.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join(".");
      const message = issue?.code === "invalid_type" && field ? `${field} is required (a string)` : (issue?.message ?? "invalid request");
      return error(400, `invalid join request: ${message}`, "bad-request");
    }
    const { clientId, secret, url } = parsed.data;
    let fingerprint: string | null = null;
    if (parsed.data.fingerprint) {
      fingerprint = normalizeFingerprint(parsed.data.fingerprint);
      if (!fingerprint) return error(400, 'invalid fingerprint: expected "sha256:" followed by 64 hex digits', "bad-request");
    }
    try {
      normalizeHubUrl(url);
      checkJoinSecret(secret);
    } catch (err) {
      return error(400, err instanceof Error ? err.message : String(err), "bad-request");
    }
    try {
      const r = await agent.join({ url, clientId, secret, fingerprint });
      return json(200, { joined: true, instanceId: r.instanceId, hubUrl: r.hubUrl, group: r.group, alreadyJoined: r.alreadyJoined, warning: JOIN_WARNING });
    } catch (err) {
      return joinError(err);
    }
  }

  if (pathname === "/api/system/hub/leave") {
    if (method !== "POST") return error(405, "use POST");
    const r = await agent.leave();
    if (!r.left) return error(409, r.error ?? "not joined to a hub", "not-joined");
    return json(200, r);
  }

  if (pathname === "/api/system/commands") {
    if (method !== "GET") return error(405, "use GET");
    // An integer or a 400: `limit=1.5` reached SQLite as LIMIT 1.5 (datatype mismatch, a 500).
    const query = CommandsQuery.safeParse({ limit: new URL(req.url).searchParams.get("limit") ?? undefined });
    if (!query.success) return error(400, "limit must be a whole number from 1 to 10000", "bad-request");
    const { limit } = query.data;
    const rows = await agent.store.executedCommands(limit);
    return json(200, rows.map((r) => ({ id: r.id, seq: r.seq, type: r.type, startedAt: r.startedAt, completedAt: r.completedAt })));
  }

  return error(404, `no such endpoint: ${method} ${pathname}`);
}
