// /account: the signed-in user's own account — who they are, their roles, and changing their
// password (any role may; the current password is required, other sessions end).
// Wrong current passwords are limited like sign-in (core/sign-in.ts changeOwnPasswordLimited);
// this page renders the outcome.
import { DOCTYPE } from "../doctype";
import { Hono, type Context } from "hono";
import { deleteCookie } from "hono/cookie";
import { z } from "zod";
import { getPrincipal } from "../../../db/principals";
import { listRoles } from "../../../db/roles";
import type { HubEnv } from "../../context";
import { actorOf, SESSION_COOKIE } from "../../middleware/auth";
import { MIN_PASSWORD_LENGTH } from "../../core/principals";
import { changeOwnPasswordLimited, PASSWORD_CHANGE_FAILURES } from "../../core/sign-in";
import { Csrf, FieldError, Flash, Time } from "../components";
import { Layout } from "../layout";

type Ctx = Context<HubEnv>;
type Errors = Record<string, string>;

// Re-exported for the tests that count up to it.
export { PASSWORD_CHANGE_FAILURES };

/** The session was ended after too many wrong current passwords (core/sign-in.ts): say so. */
function signedOutForGuessing(c: Ctx, retryAfterSeconds: number) {
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
  if (c.req.header("hx-request")) c.header("HX-Redirect", "/login");
  c.header("Retry-After", String(retryAfterSeconds));
  return c.html(
    <>
    {DOCTYPE}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Signed out · certhub</title>
        <link rel="stylesheet" href="/static/app.css" />
      </head>
      <body class="login">
        <div class="card login-card">
          <h1>Signed out</h1>
          <p class="alert error" role="alert">
            Too many wrong current passwords. You have been signed out; password changes are blocked for {Math.ceil(retryAfterSeconds / 60)} minutes.
          </p>
          <p>
            <a href="/login">Sign in again</a>
          </p>
        </div>
      </body>
    </html>
    </>,
    429,
  );
}

const passwordForm = z
  .object({
    current: z.string().min(1, "Enter your current password").max(1000),
    password: z.string().min(MIN_PASSWORD_LENGTH, `At least ${MIN_PASSWORD_LENGTH} characters`).max(1000),
    confirm: z.string().max(1000),
  })
  .refine((v) => v.password === v.confirm, { message: "The two passwords differ", path: ["confirm"] })
  .refine((v) => v.password !== v.current, { message: "Choose a password different from the current one", path: ["password"] });

async function AccountPage(props: { c: Ctx; errors?: Errors; done?: boolean }) {
  const { c } = props;
  const auth = c.get("auth");
  const { db } = c.get("deps");
  const [me, roles] = await Promise.all([getPrincipal(db, auth.principalId), listRoles(db)]);
  const errors = props.errors ?? {};
  return (
    <Layout title="Your account" auth={auth}>
      <Flash message={props.done ? { kind: "success", text: "Password changed. Your other sessions have ended." } : errors._form ? { kind: "error", text: errors._form } : null} />
      <div class="card">
        <dl class="facts">
          <dt>Username</dt>
          <dd>{me?.username ?? "—"}</dd>
          <dt>Name</dt>
          <dd>{me?.title}</dd>
          <dt>Roles</dt>
          <dd>{auth.roles.map((r) => roles.find((x) => x.id === r)?.title ?? r).join(", ") || "none"}</dd>
          <dt>Last sign-in</dt>
          <dd>
            <Time ts={me?.lastLoginAt} />
          </dd>
        </dl>
      </div>
      <h2>Change password</h2>
      <form method="post" action="/account/password" class="card" novalidate>
        <Csrf auth={auth} />
        <label>
          Current password
          <input name="current" type="password" autocomplete="current-password" required />
          <FieldError errors={errors} name="current" />
        </label>
        <div class="form-row">
          <label>
            New password
            <input name="password" type="password" autocomplete="new-password" minlength={MIN_PASSWORD_LENGTH} required />
            <FieldError errors={errors} name="password" />
          </label>
          <label>
            Repeat new password
            <input name="confirm" type="password" autocomplete="new-password" required />
            <FieldError errors={errors} name="confirm" />
          </label>
        </div>
        <button type="submit" class="primary">
          Change password
        </button>
      </form>
    </Layout>
  );
}

export const accountPages = new Hono<HubEnv>()
  .get("/account", (c) => c.html(<AccountPage c={c} done={c.req.query("done") === "password"} />))
  .post("/account/password", async (c) => {
    const auth = c.get("auth");
    const body = await c.req.parseBody();
    const parsed = passwordForm.safeParse({ current: body.current, password: body.password, confirm: body.confirm });
    if (!parsed.success) {
      const errors: Errors = {};
      for (const i of parsed.error.issues) errors[String(i.path[0] ?? "_form")] ??= i.message;
      return c.html(<AccountPage c={c} errors={errors} />, 422);
    }
    const outcome = await changeOwnPasswordLimited(
      c.get("deps").db,
      { principalId: auth.principalId, sessionIdHash: auth.sessionIdHash, current: parsed.data.current, next: parsed.data.password },
      actorOf(c),
    );
    if (!outcome.ok && outcome.reason === "signed-out") return signedOutForGuessing(c, outcome.retryAfterSeconds);
    if (!outcome.ok) return c.html(<AccountPage c={c} errors={{ current: "The current password is wrong" }} />, 422);
    return c.redirect("/account?done=password", 303);
  });
