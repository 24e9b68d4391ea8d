// In-process hubs and signed-in HTTP sessions for hub tests (no binary needed).
import { resolveHubConfig } from "../../src/hub/config";
import { createHub, type RunningHub } from "../../src/hub/server";
import { ADMIN_PASSWORD, tempDir } from "./index";

export interface TestHub extends RunningHub {
  dataDir: string;
}

/** A real hub on a loopback port (plain HTTP) with a fresh data dir and a known admin password. */
export async function startTestHub(opts: { dataDir?: string; adminPassword?: string } = {}): Promise<TestHub> {
  const dataDir = opts.dataDir ?? tempDir("certhub-hub-");
  const previous = process.env.CERTHUB_ADMIN_PASSWORD;
  process.env.CERTHUB_ADMIN_PASSWORD = opts.adminPassword ?? ADMIN_PASSWORD;
  try {
    const config = resolveHubConfig({ "data-dir": dataDir, listen: "127.0.0.1:0", http: true });
    const hub = await createHub(config);
    return Object.assign(hub, { dataDir });
  } finally {
    if (previous === undefined) delete process.env.CERTHUB_ADMIN_PASSWORD;
    else process.env.CERTHUB_ADMIN_PASSWORD = previous;
  }
}

export interface Session {
  cookie: string;
  csrf: string;
  /** fetch relative to the hub with the session cookie (and CSRF header for non-GET). */
  fetch(path: string, init?: RequestInit & { csrf?: boolean }): Promise<Response>;
  json(path: string, method: string, body: unknown): Promise<Response>;
}

export async function login(baseUrl: string, username: string, password: string): Promise<Response> {
  return fetch(`${baseUrl}/login`, {
    method: "POST",
    body: new URLSearchParams({ username, password }),
    redirect: "manual",
  });
}

/** Signs in through the real login form and reads the CSRF token from a page. */
export async function signIn(baseUrl: string, username = "admin", password = ADMIN_PASSWORD): Promise<Session> {
  const res = await login(baseUrl, username, password);
  const setCookie = res.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0];
  if (res.status !== 303 || !cookie.startsWith("certhub_session=")) {
    throw new Error(`sign-in as ${username} failed: ${res.status} ${await res.text()}`);
  }
  const me = (await (await fetch(`${baseUrl}/api/v1/me`, { headers: { cookie } })).json()) as { csrfToken?: string };
  const token = me.csrfToken;
  if (!token) throw new Error("no CSRF token for the session");
  const session: Session = {
    cookie,
    csrf: token,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("cookie", cookie);
      const method = (init.method ?? "GET").toUpperCase();
      if (method !== "GET" && init.csrf !== false) headers.set("x-csrf-token", token);
      return fetch(`${baseUrl}${path}`, { ...init, headers, redirect: "manual" });
    },
    json(path, method, body) {
      return session.fetch(path, { method, body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    },
  };
  return session;
}

export function basicAuth(clientId: string, secret: string) {
  return { authorization: `Basic ${btoa(`${clientId}:${secret}`)}` };
}
