// Answers a held long-poll without holding the request's middleware chain. A wait pending
// inside Hono keeps every middleware's async frame alive until it answers (measured: ~24 async
// frames, 66 scopes, 58 closures and 27 promises, ~12 KiB of JS heap per held wait). Instead
// the wait handler returns a placeholder at once, so the chain finishes (metrics, security
// headers) right away, and Bun.serve's fetch (server.ts) swaps in the real body when the wait
// ends: only the wait itself stays in memory meanwhile.
// Only for requests that server.ts serves (allowDeferred); anything else awaits as usual.
// A plain signed wait never gets here: server.ts serves it before Hono (wait.ts, serveWait);
// this is for the rest (a chunked or oversized body) and keeps their answers unchanged.

const supported = new WeakSet<Request>();
const answers = new WeakMap<Request, Promise<unknown>>();

/** server.ts: this request goes through finishDeferred, so its handler may defer. */
export function allowDeferred(req: Request) {
  supported.add(req);
}

/**
 * A 200 JSON answer whose body `later` resolves to. Returns the placeholder at once where the
 * server supports it (the chain's headers are kept), else waits and answers normally.
 */
export function deferJson(req: Request, later: Promise<unknown>): Response | Promise<Response> {
  if (!supported.has(req)) return later.then((body) => Response.json(body));
  answers.set(req, later);
  return new Response(null, { status: 200, headers: { "Content-Type": "application/json" } });
}

/** The final response for `req`: its deferred body with the placeholder's status and headers. */
export function finishDeferred(req: Request, res: Response): Response | Promise<Response> {
  const later = answers.get(req);
  if (!later) return res;
  answers.delete(req);
  if (res.status !== 200) return res; // something after the handler answered otherwise
  const headers = new Headers(res.headers);
  return later.then(
    (body) => new Response(JSON.stringify(body), { status: 200, headers }),
    () => Response.json({ error: "internal error" }, { status: 500 }),
  );
}
