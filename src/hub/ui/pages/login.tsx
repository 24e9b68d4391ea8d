// Sign-in and sign-out. Failed attempts are rate-limited per user+address and per address.
import { Hono, type Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { audit } from "../../../db/audit";
import { findUserByUsername } from "../../../db/principals";
import { canRead, rolesOf } from "../../../db/roles";
import { createSession, deleteSession, SESSION_ABSOLUTE_MS } from "../../../db/sessions";
import { users } from "../../../db/schema";
import { eq } from "drizzle-orm";
import type { HubEnv } from "../../context";
import { clientIp } from "../../middleware/client-ip";
import { requirePageSession, SESSION_COOKIE } from "../../middleware/auth";
import { RateLimiter } from "../../security/rateLimit";

const loginForm = z.object({
  username: z.string().trim().min(1).max(100),
  password: z.string().min(1).max(1000),
  next: z.string().max(2000).optional(),
});


// A valid argon2id hash to verify against when the user does not exist, so timing
// does not reveal which usernames exist.
// Computed on first use, off the start-up path (argon2id takes tens of milliseconds).
let dummyHash: Promise<string> | undefined;
const getDummyHash = () => (dummyHash ??= Bun.password.hash("certhub-no-such-user", { algorithm: "argon2id" }));

function safeNext(next: string | undefined) {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function LoginPage(props: { error?: string; username?: string; next?: string; status?: number }) {
  return (
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
  );
}

async function fail(c: Context<HubEnv>, username: string, reason: string, message: string, next?: string, status: 401 | 429 = 401) {
  const { db, metrics } = c.get("deps");
  metrics.counter("certhub_signin_failures_total", "Failed admin sign-in attempts").inc({ reason });
  await audit(db, { id: null, label: username || "(empty)", ip: clientIp(c) }, "login.failure", null, { reason }, "failure");
  return c.html(<LoginPage error={message} username={username} next={next} />, status);
}

/** Sign-in routes; each hub app gets its own attempt counters. */
export function loginPages() {
  // 5 failures per user+address and 20 per address in 15 minutes.
  const perUser = new RateLimiter(5, 15 * 60_000);
  const perIp = new RateLimiter(20, 15 * 60_000);
  const routes = new Hono<HubEnv>();

  routes.get("/login", (c) => c.html(<LoginPage next={c.req.query("next")} />));

  routes.post("/login", async (c) => {
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) return c.text("Forbidden: cross-site sign-in", 403);
    const parsed = loginForm.safeParse(await c.req.parseBody().catch(() => ({})));
    if (!parsed.success) return c.html(<LoginPage error="Enter a username and a password." />, 400);
    const { username, password, next } = parsed.data;
    const ip = clientIp(c) ?? "unknown";
    const userKey = `${username.toLowerCase()}|${ip}`;
    const blocked = [perUser.peek(userKey), perIp.peek(ip)].find((r) => !r.ok);
    if (blocked) {
      c.header("Retry-After", String(blocked.retryAfterSeconds));
      const minutes = Math.ceil(blocked.retryAfterSeconds / 60);
      return fail(c, username, "rate-limited", `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`, next, 429);
    }
    const { db } = c.get("deps");
    const found = await findUserByUsername(db, username);
    const valid = await Bun.password.verify(password, found?.user.passwordHash ?? (await getDummyHash()));
    if (!found || !valid) {
      perUser.take(userKey);
      perIp.take(ip);
      return fail(c, username, "bad-credentials", "Wrong username or password.", next);
    }
    if (found.principal.disabled) return fail(c, username, "disabled", "This account is disabled. Ask an administrator.", next, 401);
    if (!canRead(await rolesOf(db, found.principal.id))) {
      return fail(c, username, "no-role", "This account has no hub role. Ask an administrator.", next, 401);
    }
    perUser.reset(userKey);
    const session = await createSession(db, found.principal.id, { ip, userAgent: c.req.header("user-agent") });
    await db.update(users).set({ lastLoginAt: Date.now() }).where(eq(users.principalId, found.principal.id));
    await audit(db, { id: found.principal.id, label: found.user.username, ip }, "login.success");
    setCookie(c, SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: "Strict",
      secure: new URL(c.req.url).protocol === "https:",
      path: "/",
      maxAge: Math.floor(SESSION_ABSOLUTE_MS / 1000),
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
