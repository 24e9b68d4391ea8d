// Bounded fuzz of every HTTP endpoint (security review #11): no input may produce a 5xx or
// take the process down. Routes come from the hub app's own route list (Hono `app.routes`),
// so endpoints added later are covered as they land; the agent local API has four fixed routes.
//
//   admin API /api/v1/*    JSON bodies and odd query strings, with a session (+CSRF) and with
//                          HTTP Basic (an administrator API token)
//   pages                  POST forms with the session's CSRF token, GETs with odd queries and
//                          hostile path parameters (CR/LF, NUL, prototype names, bad encodings)
//   agent API              signed by a real joined instance key where the endpoint needs it
//   agent local API        bearer token, loopback
//
// Bodies: deep nesting (150,000 levels), huge numbers, wrong types, bad UTF-8, huge strings,
// __proto__/constructor keys (test/fuzz/corpus.ts). Deterministic (FUZZ_SEED to vary it).
// Prints: bodies sent, 2xx, 3xx, 4xx, 5xx, no answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { Agent } from "../../src/agent/agent";
import { startLocalApi, type LocalApi } from "../../src/agent/local-api";
import { ensureDataDir, loadOrCreateToken } from "../../src/agent/local-api/token";
import { createSession } from "../../src/db/sessions";
import { AGENT_API_PREFIX, generateInstanceKeyPair, JOIN_INSTANCE_ID, loadPrivateKey, sha256HexOf, signRequest } from "../../src/protocol";
import { freePort, tempDir } from "../helpers";
import { basicAuth, startTestHub, type TestHub } from "../helpers/session";
import { FakeAgent, FACTS } from "../hub/agent-api.fixtures";
import { deepArray, mutatedForms, mutatedJson, PARAM_VALUES, prng, QUERY_STRINGS, wholeBodies, type FuzzBody } from "./corpus";

const SEED = Number(process.env.FUZZ_SEED ?? 7_000_011);
const rand = prng(SEED);
const CONCURRENCY = 8;
/** Routes whose valid bodies hash or verify a password (argon2id, ~100 ms): fewer bodies. */
const SLOW = /password|principals|users|login/;

let hub: TestHub;
let adminId: string;
let session: { cookie: string; csrf: string };
let basic: Record<string, string>;
let joinKey: { clientId: string; secret: string };
let instanceId = "";
let agent: FakeAgent;
let known: { principal: string; tokenClientId: string; tokenId: string; commandId: string } = { principal: "", tokenClientId: "", tokenId: "", commandId: "" };
let localAgent: Agent;
let localApi: LocalApi;
let localToken: string;

const counts = { sent: 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "no answer": 0 };
const failures: string[] = [];
const perRoute = new Map<string, number>();

async function newSession() {
  const s = await createSession(hub.deps.db, adminId, { ip: "127.0.0.1", userAgent: "fuzz" });
  session = { cookie: `certhub_session=${s.token}`, csrf: s.csrfToken };
}

/** Sends one request, counts its status class, records 5xx and dropped connections. */
async function send(route: string, label: string, url: string, init: RequestInit): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(60_000) });
    await res.arrayBuffer();
  } catch (err) {
    counts.sent++;
    counts["no answer"]++;
    failures.push(`no answer: ${route} [${label}]: ${err instanceof Error ? err.message : err}`);
    return 0;
  }
  counts.sent++;
  perRoute.set(route, (perRoute.get(route) ?? 0) + 1);
  const cls = `${Math.floor(res.status / 100)}xx` as keyof typeof counts;
  if (cls in counts) counts[cls]++;
  if (res.status >= 500) failures.push(`${res.status}: ${route} [${label}]`);
  // The fuzz may end the admin's session (sign out, password rules): start a new one.
  if (res.status === 401 || (res.status === 303 && res.headers.get("location")?.startsWith("/login"))) await newSession();
  return res.status;
}

/** Runs `jobs` CONCURRENCY at a time. */
async function pool(jobs: (() => Promise<unknown>)[]) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

const headersFor = (b: FuzzBody, extra: Record<string, string>) => (b.contentType ? { "content-type": b.contentType, ...extra } : extra);

beforeAll(async () => {
  hub = await startTestHub();
  const { db } = hub.deps;
  adminId = (await db.all<{ id: string }>(sql`select principal_id as id from users where username = 'admin'`))[0].id;
  await newSession();
  const api = (path: string, method: string, body: unknown) =>
    fetch(`${hub.url}${path}`, { method, headers: { cookie: session.cookie, "x-csrf-token": session.csrf, "content-type": "application/json" }, body: JSON.stringify(body) });
  const token = (await (await api("/api/v1/tokens", "POST", { title: "fuzz admin token", role: "administrator" })).json()) as { clientId: string; secret: string };
  basic = basicAuth(token.clientId, token.secret);
  joinKey = (await (await api("/api/v1/tokens", "POST", { title: "fuzz joining key", role: "managed-instance" })).json()) as { clientId: string; secret: string };
  const victimToken = (await (await api("/api/v1/tokens", "POST", { title: "fuzz victim token", role: "administrator" })).json()) as { id: string; clientId: string };
  const victim = (await (await api("/api/v1/principals", "POST", { type: "user", username: "fuzzvictim", password: "victim-password-123", roles: ["readonly"] })).json()) as { id: string };
  agent = await new FakeAgent(hub.url).joined(joinKey.clientId, joinKey.secret);
  instanceId = agent.instanceId;
  const queued = (await (await api(`/api/v1/instances/${instanceId}/commands`, "POST", { type: "ping" })).json()) as { commandId: string };
  known = { principal: victim.id, tokenClientId: victimToken.clientId, tokenId: victimToken.id, commandId: queued.commandId };
  for (const [k, v] of Object.entries(known)) if (!v) throw new Error(`fuzz set-up: no ${k}`);

  const dataDir = tempDir("certhub-fuzz-agent-");
  ensureDataDir(dataDir);
  const t = loadOrCreateToken(dataDir);
  localToken = t.token;
  localAgent = await Agent.create({ dataDir, listen: null, allowScripts: false }, () => {});
  await localAgent.start();
  localApi = await startLocalApi(localAgent, t.token, t.file, { hostname: "127.0.0.1", port: await freePort() });
}, 60_000);

afterAll(async () => {
  await localApi?.stop();
  await localAgent?.stop();
  await hub?.stop();
});

// ---- route discovery ---------------------------------------------------------------------------

interface Route {
  method: string;
  path: string;
}

function discoverRoutes(): Route[] {
  const seen = new Set<string>();
  const routes: Route[] = [];
  for (const r of hub.app.routes) {
    if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(r.method) || r.path.includes("*")) continue;
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ method: r.method, path: r.path });
  }
  // Destructive actions last, so the other routes still see the real instance, token and user.
  const destructive = (r: Route) => r.method === "DELETE" || /remove|leave|revoke|retire|logout|disable|reset|delete/.test(r.path);
  return routes.sort((a, b) => Number(destructive(a)) - Number(destructive(b)));
}

/** A real id for the route's resource (so the handler gets past "not found"), by path. */
async function realId(path: string): Promise<string[]> {
  if (/instances\/:/.test(path)) return [instanceId];
  if (/(tokens|api-access)\/:/.test(path)) return [known.tokenClientId, known.tokenId];
  if (/(principals|users)\/:/.test(path)) return [known.principal];
  if (/commands\/:/.test(path)) return [known.commandId];
  // A resource added later: take the first id its list endpoint returns.
  const list = path.replace(/\/:[^/]+.*$/, "");
  if (list === path || !list.startsWith("/api/v1/")) return [];
  const res = await fetch(`${hub.url}${list}`, { headers: basic });
  if (res.status !== 200) return [];
  const body = (await res.json().catch(() => null)) as unknown;
  const items = Array.isArray(body) ? body : ((body as { items?: unknown[] } | null)?.items ?? []);
  const id = (items[0] as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? [encodeURIComponent(id)] : [];
}

const fill = (path: string, value: string) => path.replace(/:[A-Za-z_]+(\{[^}]*\})?/g, value);

// ---- request templates -------------------------------------------------------------------------

const now = Date.now();
const GENERIC: Record<string, unknown> = {
  title: "fuzz",
  name: "fuzz",
  type: "ping",
  role: "readonly",
  description: "d",
  value: "v",
  enabled: true,
  payload: {},
  domains: ["a.example.com"],
  url: "http://127.0.0.1:9/",
  scope: "global",
  scopeId: "",
  key: "k",
  secret: "s",
  password: "a-long-enough-password",
};
const API_TEMPLATES: Record<string, Record<string, unknown>> = {
  "POST /api/v1/tokens": { title: "t", role: "managed-instance", group: "g", maxUses: 3, expiresAt: now + 86_400_000 },
  "POST /api/v1/principals": { type: "user", username: "fuzzuser", password: "a-long-enough-password", title: "T", email: "a@example.com", roles: ["readonly"] },
  "PATCH /api/v1/principals/:id": { title: "T", description: "d", email: "a@example.com", disabled: false },
  "PUT /api/v1/principals/:id/roles": { roles: ["readonly"] },
  "POST /api/v1/principals/:id/password": { password: "another-long-password" },
  "POST /api/v1/instances/:id/commands": { type: "ping", payload: { certificateId: "c1" } },
};
const cert = { id: "c1", name: "n", domains: ["a.example.com"], source: "certbot", status: "valid", notBefore: now - 1e9, notAfter: now + 1e9, serial: "ab", issuer: "i" };
const AGENT_TEMPLATES: Record<string, Record<string, unknown>> = {
  join: { clientId: "chub_id_x", secret: "s", publicKey: generateInstanceKeyPair().publicKey, facts: FACTS },
  sync: {
    settingsVersion: 0,
    cursor: 0,
    results: [{ commandId: "cmd_x", seq: 1, status: "succeeded", message: "ok", data: { a: 1 }, completedAt: now }],
    certificatesHash: "h",
    certificates: [cert],
    facts: FACTS,
  },
  wait: { cursor: 0, settingsVersion: 0, timeoutSeconds: 1 },
  rekey: { newPublicKey: generateInstanceKeyPair().publicKey, facts: FACTS },
  leave: {},
};
const FORM_FIELDS: Record<string, string> = {
  title: "fuzz",
  type: "user",
  role: "readonly",
  username: "fuzzform",
  password: "a-long-enough-password",
  confirm: "a-long-enough-password",
  current: "wrong-current-password",
  email: "a@example.com",
  description: "d",
  roles: "readonly",
  principalId: "p_x",
  maxUses: "3",
  group: "g",
  expiresOn: "2030-01-01",
  expiresInDays: "30",
  disabled: "on",
  payload: "{}",
  instanceId: "i_x",
  name: "n",
  value: "v",
  next: "/",
};

/** The agent API's own bodies: the general corpus plus the review's cases. */
function agentBodies(endpoint: string): FuzzBody[] {
  const template = structuredClone(AGENT_TEMPLATES[endpoint] ?? GENERIC);
  // Results for the command really queued, so they are stored (JSON.stringify of the data).
  if (endpoint === "sync") (template.results as { commandId: string }[])[0].commandId = known.commandId;
  const json = "application/json";
  const special: FuzzBody[] =
    endpoint === "sync"
      ? [
          { name: "result data 150k deep", contentType: json, body: JSON.stringify({ ...template, certificates: undefined }).replace('{"a":1}', deepArray(150_000)) },
          { name: "certificate notAfter 9e15", contentType: json, body: JSON.stringify({ ...template, certificates: [{ ...cert, notAfter: 9e15 }] }) },
          { name: "result completedAt 9e15", contentType: json, body: JSON.stringify({ ...template, results: [{ ...(template.results as object[])[0], completedAt: 9e15 }] }) },
        ]
      : [];
  return [...special, ...wholeBodies(), ...mutatedJson(template, endpoint === "wait" ? 30 : 60, rand)];
}

/** Signs a raw body as the joined instance (or, for join, with a fresh key being registered). */
function signedInit(endpoint: string, body: string | Uint8Array<ArrayBuffer>, contentType: string): RequestInit {
  const isJoin = endpoint === "join";
  const kp = isJoin ? generateInstanceKeyPair() : agent.keyPair;
  const headers = signRequest(loadPrivateKey(kp.privateKeyPkcs8), {
    method: "POST",
    path: `${AGENT_API_PREFIX}/${endpoint}`,
    instanceId: isJoin ? JOIN_INSTANCE_ID : agent.instanceId,
    time: Date.now(),
    seq: isJoin ? 0 : ++agent.seq,
    bootId: agent.bootId,
    bodySha256: sha256HexOf(body),
  });
  return { method: "POST", headers: contentType ? { ...headers, "content-type": contentType } : headers, body };
}

// ---- the run -----------------------------------------------------------------------------------

test(
  "no endpoint answers 5xx or drops the connection, whatever the body, query or path parameter",
  async () => {
    const routes = discoverRoutes();
    expect(routes.length).toBeGreaterThan(40);
    const jobs: (() => Promise<unknown>)[] = [];
    const sessionHeaders = () => ({ cookie: session.cookie, "x-csrf-token": session.csrf });

    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      const hasParams = route.path.includes("/:");
      const ids = hasParams ? await realId(route.path) : [""];
      const good = hasParams ? fill(route.path, ids[0] ?? "nope") : route.path;
      const isAgent = route.path.startsWith(`${AGENT_API_PREFIX}/`);
      const isApi = route.path.startsWith("/api/v1/");

      // Hostile path parameters (every method), with a harmless body.
      if (hasParams) {
        for (const value of [...ids.slice(1), ...PARAM_VALUES]) {
          const url = `${hub.url}${fill(route.path, value)}`;
          const body = route.method === "GET" ? undefined : isApi ? "{}" : new URLSearchParams({ _csrf: session.csrf }).toString();
          const type = isApi ? "application/json" : "application/x-www-form-urlencoded";
          jobs.push(() => send(key, `param ${value.slice(0, 20)}`, url, { method: route.method, headers: { ...sessionHeaders(), ...(body ? { "content-type": type } : {}) }, body }));
          if (isApi) jobs.push(() => send(key, `param ${value.slice(0, 20)} (Basic)`, url, { method: route.method, headers: { ...basic, ...(body ? { "content-type": type } : {}) }, body }));
          jobs.push(() => send(key, `param ${value.slice(0, 20)} (htmx)`, url, { method: route.method, headers: { ...sessionHeaders(), "hx-request": "true", ...(body ? { "content-type": type } : {}) }, body }));
        }
      }

      if (route.method === "GET") {
        for (const q of QUERY_STRINGS) {
          const url = `${hub.url}${good}?${q}`;
          jobs.push(() => send(key, `query ${q.slice(0, 40)}`, url, { headers: sessionHeaders() }));
          if (isApi) jobs.push(() => send(key, `query ${q.slice(0, 40)} (Basic)`, url, { headers: basic }));
          else if (!isAgent) jobs.push(() => send(key, `query ${q.slice(0, 40)} (htmx)`, url, { headers: { ...sessionHeaders(), "hx-request": "true", "hx-target": "x" } }));
        }
        continue;
      }

      const url = `${hub.url}${good}`;
      if (isAgent) {
        const endpoint = route.path.slice(AGENT_API_PREFIX.length + 1);
        for (const b of agentBodies(endpoint)) jobs.push(() => send(key, b.name, url, signedInit(endpoint, b.body, b.contentType)));
        // Unsigned and badly signed.
        jobs.push(() => send(key, "unsigned", url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }));
        jobs.push(() => send(key, "bad headers", url, { method: "POST", headers: { "content-type": "application/json", "x-certhub-instance": "\u00ff".repeat(3), "x-certhub-seq": "1e400", "x-certhub-time": "-1.5", "x-certhub-boot": "x".repeat(5000), "x-certhub-signature": "%%%" }, body: "{}" }));
        continue;
      }
      if (isApi) {
        const bodies = [...wholeBodies(), ...mutatedJson(API_TEMPLATES[`${route.method} ${route.path}`] ?? GENERIC, SLOW.test(route.path) ? 15 : 30, rand)];
        for (const b of bodies) {
          jobs.push(() => send(key, b.name, url, { method: route.method, headers: headersFor(b, sessionHeaders()), body: b.body }));
          jobs.push(() => send(key, `${b.name} (Basic)`, url, { method: route.method, headers: headersFor(b, basic), body: b.body }));
        }
        continue;
      }
      // Pages: forms with the CSRF token in the form (as a browser posts them) or the header (htmx).
      const forms = mutatedForms(FORM_FIELDS, SLOW.test(route.path) ? 12 : 25, rand, session.csrf);
      for (const b of forms) {
        jobs.push(() => send(key, b.name, url, { method: route.method, headers: { cookie: session.cookie, "content-type": b.contentType }, body: String(b.body).replace(/_csrf=[^&]*/, `_csrf=${session.csrf}`) }));
      }
      for (const b of [...wholeBodies(), ...mutatedJson(GENERIC, 8, rand)]) {
        jobs.push(() => send(key, `${b.name} (htmx)`, url, { method: route.method, headers: headersFor(b, { ...sessionHeaders(), "hx-request": "true" }), body: b.body }));
      }
    }

    // The agent's local API (not a Hono app: its four routes are fixed).
    const local = (p: string) => `${localApi.url}${p}`;
    const auth = () => ({ authorization: `Bearer ${localToken}` });
    const localJoin = { clientId: "chub_id_x", secret: "s", url: `${hub.url}/`, fingerprint: null };
    for (const b of [...wholeBodies(), ...mutatedJson(localJoin, 40, rand)]) {
      // Every URL in the corpus stays on loopback: a mutated url is a hostile string, never a host.
      jobs.push(() => send("local POST /api/system/hub/join", b.name, local("/api/system/hub/join"), { method: "POST", headers: headersFor(b, auth()), body: b.body }));
    }
    for (const b of wholeBodies().slice(0, 12)) jobs.push(() => send("local POST /api/system/hub/leave", b.name, local("/api/system/hub/leave"), { method: "POST", headers: headersFor(b, auth()), body: b.body }));
    for (const p of ["/api/system/status", "/api/system/commands", "/api/system/__proto__", "/api/system/constructor"]) {
      for (const q of QUERY_STRINGS) jobs.push(() => send(`local GET ${p}`, q.slice(0, 30), local(`${p}?${q}`), { headers: auth() }));
    }

    await pool(jobs);

    console.log(
      `fuzz (seed ${SEED}): ${routes.length} hub routes + 4 local API routes; bodies/requests sent ${counts.sent}: ` +
        `2xx ${counts["2xx"]}, 3xx ${counts["3xx"]}, 4xx ${counts["4xx"]}, 5xx ${counts["5xx"]}, no answer ${counts["no answer"]}`,
    );
    const unique = [...new Set(failures)];
    if (unique.length) console.log(`5xx / no answer (${unique.length} distinct):\n  ${unique.slice(0, 60).join("\n  ")}`);
    // Every discovered route was exercised.
    for (const r of routes) expect(perRoute.get(`${r.method} ${r.path}`) ?? 0, `${r.method} ${r.path}`).toBeGreaterThan(0);
    expect(unique).toEqual([]);
    // Still alive and serving.
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await fetch(local("/api/system/status"), { headers: auth() })).status).toBe(200);
  },
  300_000,
);
