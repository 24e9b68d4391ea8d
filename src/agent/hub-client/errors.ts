// Failures talking to the hub, classified so the local API and status can say what is wrong.
export type HubErrorKind =
  | "unreachable" // connection refused, DNS, timeout
  | "tls" // certificate not trusted (self-signed hub without a fingerprint pin, name mismatch…)
  | "fingerprint-mismatch" // the hub presented a different certificate than the pinned one
  | "hub" // the hub answered with an error (status/code set)
  | "bad-response"; // the hub answered something that is not the protocol

export class HubClientError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
    /** The hub's Retry-After on a 503/429, validated and bounded (retry-after.ts). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export const PIN_MISMATCH_MARK = "certhub: hub certificate does not match the pinned fingerprint";

/** Turns a fetch exception into a HubClientError. */
export function classifyFetchError(err: unknown, url: string): HubClientError {
  if (err instanceof HubClientError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  const msg = e?.message ?? String(err);
  if (msg.includes(PIN_MISMATCH_MARK)) return new HubClientError("fingerprint-mismatch", msg);
  const code = e?.code ?? "";
  if (/CERT|TLS|SSL|VERIFY|SELF_SIGNED|ALTNAME/i.test(code) || /certificate/i.test(msg)) {
    return new HubClientError(
      "tls",
      `the hub's TLS certificate is not trusted (${code || msg}); for a self-signed hub pass its fingerprint (printed when the hub starts) as "fingerprint"`,
    );
  }
  if (e?.name === "TimeoutError" || code === "ETIMEDOUT") return new HubClientError("unreachable", `hub at ${url} did not answer in time`);
  return new HubClientError("unreachable", `cannot reach the hub at ${url}: ${code ? `${code} ` : ""}${msg}`.trim());
}
