// Every signed-in admin page, mounted behind the session middleware.
// One file per page (or page group); add a line here when adding one.
import { Hono } from "hono";
import type { HubEnv } from "../../context";
import { requirePageSession } from "../../middleware/auth";
import { accountPages } from "./account";
import { apiAccessPages } from "./settings/security/api-access";
import { auditPages } from "./audit";
import { certificatePages } from "./certificates";
import { dashboardPages } from "./dashboard";
import { instanceCertificatePages } from "./instance-certificates";
import { instancePages } from "./instances";
import { settingsPages } from "./settings";
import { usersPages } from "./settings/security/users";

export const adminPages = new Hono<HubEnv>();
adminPages.use("*", requirePageSession);
adminPages.route("/", instancePages);
adminPages.route("/", instanceCertificatePages);
adminPages.route("/", certificatePages);
adminPages.route("/", dashboardPages);
adminPages.route("/", settingsPages);
adminPages.route("/", usersPages);
adminPages.route("/", apiAccessPages);
adminPages.route("/", auditPages);
adminPages.route("/", accountPages);
