// Every signed-in admin page, mounted behind the session middleware.
// One file per page (or page group); add a line here when adding one.
import { Hono } from "hono";
import type { HubEnv } from "../../context";
import { requirePageSession } from "../../middleware/auth";
import { certificatePages } from "./certificates";
import { instancePages } from "./instances";

export const adminPages = new Hono<HubEnv>();
adminPages.use("*", requirePageSession);
adminPages.route("/", instancePages);
adminPages.route("/", certificatePages);
