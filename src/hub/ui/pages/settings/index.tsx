// Settings (/settings and below): the scoped pages — General (every registry setting),
// Certificate Authorities, Stored Credentials, External Certificate Managers — each with the
// scope picker (All instances / group / one instance) at the top. Security › Users and
// Security › API Access live in ../users and ../api-access (same sub-navigation).
import { Hono } from "hono";
import type { HubEnv } from "../../../context";
import { caAccountPages } from "./ca-accounts";
import { credentialPages } from "./credentials";
import { externalManagerPages } from "./external-managers";
import { generalSettingsPages } from "./general";

export const settingsPages = new Hono<HubEnv>();
settingsPages.route("/", generalSettingsPages);
settingsPages.route("/", caAccountPages);
settingsPages.route("/", credentialPages);
settingsPages.route("/", externalManagerPages);
