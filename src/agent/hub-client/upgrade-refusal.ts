// Why the hub refused the push WebSocket's upgrade: its status, Retry-After and error code.
// The WebSocket API hides a non-101 answer behind a bare "error" event; Bun (1.4) also fires
// an undocumented "handshake" event carrying the answer (its own `ws` shim reads it). Both
// are used defensively: the event's data is validated, and without it the status is taken
// from the error message ("Expected 101 status code: 503"), with no Retry-After.
import { z } from "zod";
import { ErrorBodySchema } from "../../protocol";
import { parseRetryAfter } from "./retry-after";

export interface UpgradeRefusal {
  status: number;
  retryAfterMs?: number;
  code?: string;
}

const HandshakeSchema = z.object({
  statusCode: z.number().int().min(100).max(599),
  rawHeaders: z.array(z.string()).max(400).optional(),
  body: z.instanceof(Uint8Array).optional(),
});

/** Records the refusal of `ws`'s upgrade; read it once the socket failed. */
export function watchUpgradeRefusal(ws: WebSocket): () => UpgradeRefusal | null {
  let refusal: UpgradeRefusal | null = null;
  ws.addEventListener("handshake" as "open", (e: Event) => {
    const parsed = HandshakeSchema.safeParse((e as MessageEvent).data);
    if (!parsed.success || parsed.data.statusCode === 101) return;
    const { statusCode, rawHeaders = [], body } = parsed.data;
    let retryAfter: string | null = null;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === "retry-after") retryAfter = rawHeaders[i + 1];
    let code: string | undefined;
    if (body && body.length <= 4096) {
      try {
        code = ErrorBodySchema.safeParse(JSON.parse(new TextDecoder().decode(body))).data?.code;
      } catch {}
    }
    refusal = { status: statusCode, retryAfterMs: parseRetryAfter(retryAfter) ?? undefined, code };
  });
  ws.addEventListener("error", (e: Event) => {
    if (refusal) return;
    const m = /Expected 101 status code: (\d{3})/.exec(String((e as ErrorEvent).message ?? ""));
    if (m) refusal = { status: Number(m[1]) };
  });
  return () => refusal;
}
