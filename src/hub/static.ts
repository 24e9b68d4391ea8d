// Static assets embedded in the binary (imported as text, so `bun build --compile`
// carries them): htmx from node_modules, our CSS and the tiny app.js.
import { Hono } from "hono";
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import appCss from "../../public/app.css" with { type: "text" };
import appJs from "../../public/app.js" with { type: "text" };
import { sha256Hex } from "../lib/crypto";

const ASSETS: Record<string, { body: string; type: string }> = {
  "htmx.min.js": { body: htmx, type: "text/javascript; charset=utf-8" },
  "app.css": { body: appCss, type: "text/css; charset=utf-8" },
  "app.js": { body: appJs, type: "text/javascript; charset=utf-8" },
};
// Hashes computed once at start-up for ETags.
const ETAGS = Object.fromEntries(Object.entries(ASSETS).map(([k, v]) => [k, `"${sha256Hex(v.body).slice(0, 16)}"`]));

export const staticRoutes = new Hono();

staticRoutes.get("/:name", (c) => {
  const name = c.req.param("name");
  const asset = ASSETS[name];
  if (!asset) return c.json({ error: "not found" }, 404);
  const etag = ETAGS[name];
  c.header("ETag", etag);
  c.header("Cache-Control", "public, max-age=300");
  if (c.req.header("if-none-match") === etag) return c.body(null, 304);
  c.header("Content-Type", asset.type);
  return c.body(asset.body);
});
