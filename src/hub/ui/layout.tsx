// Page shell shared by every admin page: navigation, CSRF header for htmx, assets.
import type { Child } from "hono/jsx";
import type { AuthInfo } from "../context";

export const NAV = [
  { href: "/", label: "Dashboard", key: "dashboard" },
  { href: "/instances", label: "Instances", key: "instances" },
  { href: "/certificates", label: "Certificates", key: "certificates" },
  { href: "/settings", label: "Settings", key: "settings" },
  { href: "/settings/users", label: "Security › Users", key: "users" },
  { href: "/settings/api-access", label: "Security › API Access", key: "api-access" },
  { href: "/audit", label: "Audit Log", key: "audit" },
] as const;

export type NavKey = (typeof NAV)[number]["key"];

export function Layout(props: { title: string; auth: AuthInfo; active?: NavKey; children?: Child }) {
  const { auth } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · certhub`}</title>
        <link rel="stylesheet" href="/static/app.css" />
        <script src="/static/htmx.min.js" defer></script>
        <script src="/static/app.js" defer></script>
      </head>
      {/* htmx sends this header with every request; the CSRF middleware checks it. */}
      <body hx-headers={JSON.stringify({ "X-CSRF-Token": auth.csrfToken ?? "" })}>
        <header class="topbar">
          <a class="brand" href="/">certhub</a>
          <nav>
            {NAV.map((n) => (
              <a href={n.href} class={props.active === n.key ? "active" : ""}>
                {n.label}
              </a>
            ))}
          </nav>
          <form method="post" action="/logout" class="logout">
            <input type="hidden" name="_csrf" value={auth.csrfToken ?? ""} />
            <a class="who" href="/account" title="Your account">
              {auth.label}
            </a>
            <button type="submit" class="link">Sign out</button>
          </form>
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}
