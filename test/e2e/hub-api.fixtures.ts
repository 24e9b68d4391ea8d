// Driving a compiled hub (dist/certhub) the way an outside script would, for end-to-end tests:
// the joining key it prints on first start, an administrator API key from `certhub keys create`,
// and /api/v1 calls with HTTP Basic.
import { runCli, type Hub } from "../helpers";

export interface ApiAnswer {
  status: number;
  /** The parsed body, or null when it is not JSON. */
  json: any;
  text: string;
}

/** The joining key a fresh hub prints on its first start. */
export function firstJoiningKey(hub: Hub): { clientId: string; secret: string } {
  const out = hub.stdout();
  return { clientId: /Client ID:\s+(\S+)/.exec(out)![1]!, secret: /Secret:\s+(\S+)/.exec(out)![1]! };
}

/** Creates an administrator API key with the CLI and returns its `authorization` header value. */
export async function adminApiAuth(hubDir: string, title: string): Promise<string> {
  const key = await runCli(["keys", "create", "--title", title, "--role", "administrator", "--json"], { dataDir: hubDir });
  if (key.code !== 0) throw new Error(`keys create: ${key.stderr}`);
  const { clientId, secret } = JSON.parse(key.stdout);
  return `Basic ${btoa(`${clientId}:${secret}`)}`;
}

/** One /api/v1 call: JSON body when given, the answer's status, text and parsed JSON. */
export async function callApi(hubUrl: string, auth: string, p: string, method = "GET", body?: unknown): Promise<ApiAnswer> {
  const res = await fetch(`${hubUrl}/api/v1${p}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}
