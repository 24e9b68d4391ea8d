// Sign-in and sign-out pages. The rules (guess limits, dummy-hash timing, refusals, audit,
// the session) are in src/hub/core/sign-in.ts; this file only renders their outcome.
import { DOCTYPE } from "../doctype";
import { Hono, type Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { audit } from "../../../db/audit";
import { deleteSession } from "../../../db/sessions";
import type { HubEnv } from "../../context";
import { createSignIn } from "../../core/sign-in";
import { clientIp } from "../../middleware/client-ip";
import { requirePageSession, SESSION_COOKIE } from "../../middleware/auth";

const loginForm = z.object({
  username: z.string().trim().min(1).max(100),
  password: z.string().min(1).max(1000),
  next: z.string().max(2000).optional(),
});


const PLACEHOLDER_ORIGIN = "http://certhub.invalid";

/**
 * Where to go after signing in: only a path on this hub that normalises to itself. Browsers
 * read "/\evil.example", "/<TAB>/evil.example" and "//evil" as other hosts; parsing with the URL
 * parser (as a browser would) and demanding an unchanged same-origin path catches every variant.
 */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//")) return "/";
  let url: URL;
  try {
    url = new URL(next, PLACEHOLDER_ORIGIN);
  } catch {
    return "/";
  }
  const path = url.pathname + url.search + url.hash;
  if (url.origin !== PLACEHOLDER_ORIGIN || path !== next || url.pathname.startsWith("//")) return "/";
  return path;
}

function LoginPage(props: { error?: string; username?: string; next?: string; status?: number }) {
  return (
    <>
    {DOCTYPE}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · certhub</title>
        <link rel="stylesheet" href="/static/app.css" />
      </head>
      <body class="login">
        <form method="post" action="/login" class="card login-card">
          <h1>certhub</h1>
          <p class="muted">Sign in to manage your certificate fleet.</p>
          {props.error ? <p class="alert error" role="alert">{props.error}</p> : null}
          <input type="hidden" name="next" value={props.next ?? "/"} />
          <label>
            Username
            <input name="username" autocomplete="username" required autofocus value={props.username ?? ""} />
          </label>
          <label>
            Password
            <input name="password" type="password" autocomplete="current-password" required />
          </label>
          <button type="submit" class="primary">Sign in</button>
        </form>
      </body>
    </html>
    </>
  );
}

const FAILURE_MESSAGES = {
  "bad-credentials": "Wrong username or password.",
  disabled: "This account is disabled. Ask an administrator.",
  "no-role": "This account has no hub role. Ask an administrator.",
} as const;

function tooMany(c: Context<HubEnv>, username: string, retryAfterSeconds: number, next?: string) {
  c.header("Retry-After", String(retryAfterSeconds));
  const minutes = Math.ceil(retryAfterSeconds / 60);
  const until = new Date(Date.now() + retryAfterSeconds * 1000).toISOString().slice(11, 16);
  // Say when it lifts and the way out that does not wait: an admin with shell access to the hub.
  const message =
    `Too many failed sign-in attempts for this account from this address. Try again in ${minutes} minute${minutes === 1 ? "" : "s"} (at ${until} UTC). ` +
    `Forgot the password? An administrator can set a new one on the hub's host with: certhub users reset-password ${username.slice(0, 64) || "<username>"}`;
  return c.html(<LoginPage error={message} username={username} next={next} />, 429);
}

/** Sign-in routes; each hub app gets its own attempt counters. */
export function loginPages() {
  const signIn = createSignIn();
  const routes = new Hono<HubEnv>();

  routes.get("/login", (c) => c.html(<LoginPage next={safeNext(c.req.query("next"))} />));

  routes.post("/login", async (c) => {
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) return c.text("Forbidden: cross-site sign-in", 403);
    const parsed = loginForm.safeParse(await c.req.parseBody().catch(() => ({})));
    if (!parsed.success) return c.html(<LoginPage error="Enter a username and a password." />, 400);
    const { username, password, next } = parsed.data;
    const ip = clientIp(c) ?? "unknown";
    const outcome = await signIn(c.get("deps"), { username, password, ip, clientIp: clientIp(c), userAgent: c.req.header("user-agent") });
    if (!outcome.ok) {
      if (outcome.reason === "rate-limited") return tooMany(c, username, outcome.retryAfterSeconds, next);
      return c.html(<LoginPage error={FAILURE_MESSAGES[outcome.reason]} username={username} next={next} />, 401);
    }
    setCookie(c, SESSION_COOKIE, outcome.sessionToken, {
      httpOnly: true,
      sameSite: "Strict",
      secure: new URL(c.req.url).protocol === "https:",
      path: "/",
      maxAge: Math.floor(c.get("deps").config.sessions.absoluteMs / 1000),
    });
    return c.redirect(safeNext(next), 303);
  });

  routes.post("/logout", requirePageSession, async (c) => {
    const auth = c.get("auth");
    const { db } = c.get("deps");
    if (auth.sessionIdHash) await deleteSession(db, auth.sessionIdHash);
    await audit(db, { id: auth.principalId, label: auth.label, ip: clientIp(c) }, "logout");
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login", 303);
  });
  return routes;
}
