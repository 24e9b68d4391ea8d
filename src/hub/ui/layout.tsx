// Page shell shared by every admin page: navigation (top level, and the Settings sub-navigation
// on every settings page), CSRF header for htmx, assets.
import { DOCTYPE } from "./doctype";
import type { Child } from "hono/jsx";
import type { AuthInfo } from "../context";

/** Top-level navigation, as the product is organised. */
export const NAV = [
  { href: "/", label: "Dashboard", key: "dashboard" },
  { href: "/certificates", label: "Certificates", key: "certificates" },
  { href: "/instances", label: "Instances", key: "instances" },
  { href: "/settings", label: "Settings", key: "settings" },
] as const;

/**
 * Settings sub-navigation. `scoped` pages keep the chosen scope (All instances / group /
 * instance) in their query string, so moving between them keeps it.
 */
export const SETTINGS_NAV = [
  { href: "/settings", label: "General", key: "settings", scoped: true },
  { href: "/settings/ca-accounts", label: "Certificate Authorities", key: "ca-accounts", scoped: true },
  { href: "/settings/credentials", label: "Stored Credentials", key: "credentials", scoped: true },
  { href: "/settings/external-managers", label: "External Certificate Managers", key: "external-managers", scoped: true },
  { href: "/settings/users", label: "Security › Users", key: "users", scoped: false },
  { href: "/settings/api-access", label: "Security › API Access", key: "api-access", scoped: false },
  { href: "/audit", label: "Audit Log", key: "audit", scoped: false },
] as const;

export type NavKey = (typeof NAV)[number]["key"] | (typeof SETTINGS_NAV)[number]["key"];

const SETTINGS_KEYS = new Set<string>(SETTINGS_NAV.map((n) => n.key));

/** Which top-level entry a page belongs to. */
function topOf(active: NavKey | undefined): string | undefined {
  return active && SETTINGS_KEYS.has(active) ? "settings" : active;
}

export function Layout(props: { title: string; auth: AuthInfo; active?: NavKey; children?: Child; scopeQuery?: string }) {
  const { auth } = props;
  const top = topOf(props.active);
  const inSettings = props.active !== undefined && SETTINGS_KEYS.has(props.active);
  return (
    <>
    {DOCTYPE}
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
          {/* Narrow screens: the navigation folds behind this button (public/app.js toggles it). */}
          <button type="button" class="menu-toggle" aria-controls="main-nav" aria-expanded="false" data-toggle-nav>
            Menu
          </button>
          <nav id="main-nav" aria-label="Main">
            {NAV.map((n) => (
              <a href={n.href} class={top === n.key ? "active" : ""} aria-current={top === n.key ? "page" : undefined}>
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
        {inSettings ? (
          <nav class="subnav" aria-label="Settings">
            {SETTINGS_NAV.map((n) => (
              <a
                href={n.scoped && props.scopeQuery ? `${n.href}${props.scopeQuery}` : n.href}
                class={props.active === n.key ? "active" : ""}
                aria-current={props.active === n.key ? "page" : undefined}
              >
                {n.label}
              </a>
            ))}
          </nav>
        ) : null}
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
    </>
  );
}
