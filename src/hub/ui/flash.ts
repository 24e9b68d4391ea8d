// One-shot outcome messages after a redirect ("Instance revoked.", a refusal with its reason).
// They travel in a short-lived HttpOnly cookie set by the hub's own response, never in the
// URL: a link like /instances?error=Your+hub+was+hacked,+call… must not put an attacker's
// words on the page in the hub's voice. The next page render shows the message and clears it.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

export const FLASH_COOKIE = "certhub_flash";

export interface FlashMessage {
  kind: "success" | "error";
  text: string;
}

/** Queues a message for the next page this browser renders. */
export function setFlash(c: Context, kind: FlashMessage["kind"], text: string) {
  const value = Buffer.from(JSON.stringify({ kind, text: text.slice(0, 500) })).toString("base64url");
  setCookie(c, FLASH_COOKIE, value, {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: 60,
  });
}

/** The queued message (cleared as it is read); null when there is none or it is not ours. */
export function takeFlash(c: Context): FlashMessage | null {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return null;
  deleteCookie(c, FLASH_COOKIE, { path: "/" });
  try {
    const v = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<FlashMessage>;
    if ((v.kind === "success" || v.kind === "error") && typeof v.text === "string") return { kind: v.kind, text: v.text.slice(0, 500) };
  } catch {}
  return null;
}

/** Redirect after an action: htmx follows HX-Redirect, a plain form post gets a 303. */
export function redirectWithFlash(c: Context, to: string, message: FlashMessage | null) {
  if (message) setFlash(c, message.kind, message.text);
  if (c.req.header("hx-request")) {
    c.header("HX-Redirect", to);
    return c.body(null, 204);
  }
  return c.redirect(to, 303);
}
