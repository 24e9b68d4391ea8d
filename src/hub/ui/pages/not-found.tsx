// The page for an address that leads nowhere: the usual navigation around it (when signed in),
// so a mistyped or stale link is not a dead end.
import { DOCTYPE } from "../doctype";
import type { Context } from "hono";
import type { HubEnv } from "../../context";
import { Layout } from "../layout";

export function notFoundPage(c: Context<HubEnv>) {
  const auth = c.get("auth");
  const body = (
    <div class="not-found card">
      <p>There is no page at this address. It may have been removed, or the link was mistyped.</p>
      <p>
        <a href="/">Go to the Dashboard</a> · <a href="/instances">Instances</a> · <a href="/certificates">Certificates</a>
      </p>
    </div>
  );
  if (auth) return c.html(<Layout title="Page not found" auth={auth}>{body}</Layout>, 404);
  return c.html(
    <>
    {DOCTYPE}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Page not found · certhub</title>
        <link rel="stylesheet" href="/static/app.css" />
      </head>
      <body class="login">
        <main class="login-card card">
          <h1>Page not found</h1>
          <p>There is no page at this address.</p>
          <p>
            <a href="/login">Sign in</a>
          </p>
        </main>
      </body>
    </html>
    </>,
    404,
  );
}
