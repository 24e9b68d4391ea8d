// Static assets embedded in the binary (imported as text, so `bun build --compile`
// carries them): htmx from node_modules, our CSS and the tiny app.js.
import { Hono } from "hono";
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import appCss from "../../public/app.css" with { type: "text" };
import appJs from "../../public/app.js" with { type: "text" };
import { sha256Hex } from "../lib/crypto";

// A Map, not an object literal: a lookup by request path must not reach Object.prototype
// (`/static/constructor`, `/static/__proto__` answered 200 with an object's insides).
const ASSETS = new Map<string, { body: string; type: string; etag: string }>(
  [
    ["htmx.min.js", htmx, "text/javascript; charset=utf-8"],
    ["app.css", appCss, "text/css; charset=utf-8"],
    ["app.js", appJs, "text/javascript; charset=utf-8"],
  ].map(([name, body, type]) => [name, { body, type, etag: `"${sha256Hex(body).slice(0, 16)}"` }]),
);

export const staticRoutes = new Hono();

staticRoutes.get("/:name", (c) => {
  const name = c.req.param("name");
  const asset = ASSETS.get(name);
  if (!asset) return c.json({ error: "not found" }, 404);
  const etag = asset.etag;
  c.header("ETag", etag);
  c.header("Cache-Control", "public, max-age=300");
  if (c.req.header("if-none-match") === etag) return c.body(null, 304);
  c.header("Content-Type", asset.type);
  return c.body(asset.body);
});
