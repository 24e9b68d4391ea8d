// Sign-in and sign-out. Password guesses are limited per user+address and per address (see
// security/signInLimits.ts); refused attempts are audited as one counted row per burst.
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
import { AuditBursts } from "../../security/auditBursts";
import { SignInLimits } from "../../security/signInLimits";

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

function tooMany(c: Context<HubEnv>, username: string, retryAfterSeconds: number, next?: string) {
  c.get("deps").metrics.counter("certhub_signin_failures_total", "Failed admin sign-in attempts").inc({ reason: "rate-limited" });
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
  const limits = new SignInLimits();
  let bursts: AuditBursts | undefined;
  const routes = new Hono<HubEnv>();

  routes.get("/login", (c) => c.html(<LoginPage next={safeNext(c.req.query("next"))} />));

  routes.post("/login", async (c) => {
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) return c.text("Forbidden: cross-site sign-in", 403);
    const parsed = loginForm.safeParse(await c.req.parseBody().catch(() => ({})));
    if (!parsed.success) return c.html(<LoginPage error="Enter a username and a password." />, 400);
    const { username, password, next } = parsed.data;
    const { db } = c.get("deps");
    const ip = clientIp(c) ?? "unknown";
    // Reserved before argon2id runs (synchronously), so a burst cannot outrun the limit.
    const attempt = limits.attempt(username, ip);
    // Refusals (and guesses from an address over its limit) are audited as one counted row per
    // limiter key and window.
    const auditBurst = (byAddress: boolean) => {
      if (!bursts) {
        bursts = new AuditBursts(db);
        // Pending counts are written before the database closes.
        const pending = bursts;
        c.get("deps").services.push({ name: "sign-in-audit-bursts", stop: () => pending.flushAll() });
      }
      return byAddress
        ? bursts.record(`address|${ip}`, limits.perAddress.windowEnd(ip), { id: null, label: "(any user)", ip }, "login.rate_limited", { scope: "address" })
        : bursts.record(`user|${username.toLowerCase()}|${ip}`, limits.windowEnd(username, ip), { id: null, label: username, ip }, "login.rate_limited", { scope: "user+address", username });
    };
    if (!attempt.ok) {
      await auditBurst(attempt.addressOverLimit);
      return tooMany(c, username, attempt.retryAfterSeconds, next);
    }
    const found = await findUserByUsername(db, username);
    const valid = await Bun.password.verify(password, found?.user.passwordHash ?? (await getDummyHash()));
    if (!found || !valid) {
      if (attempt.addressOverLimit) {
        // Spraying from this address: one counted row per window, not one per guess.
        await auditBurst(true);
        c.get("deps").metrics.counter("certhub_signin_failures_total", "Failed admin sign-in attempts").inc({ reason: "bad-credentials" });
        return c.html(<LoginPage error="Wrong username or password." username={username} next={next} />, 401);
      }
      return fail(c, username, "bad-credentials", "Wrong username or password.", next);
    }
    attempt.succeeded();
    if (found.principal.disabled) return fail(c, username, "disabled", "This account is disabled. Ask an administrator.", next, 401);
    if (!canRead(await rolesOf(db, found.principal.id))) {
      return fail(c, username, "no-role", "This account has no hub role. Ask an administrator.", next, 401);
    }
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
