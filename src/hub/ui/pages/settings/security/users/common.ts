// Paths, element ids and types the Users modules share.
import type { Context } from "hono";
import type { getPrincipal, listPrincipals, PrincipalType } from "../../../../../../db/principals";
import type { listRoles } from "../../../../../../db/roles";
import type { HubEnv } from "../../../../../context";

export type Ctx = Context<HubEnv>;
export type Principal = Awaited<ReturnType<typeof listPrincipals>>["rows"][number];
export type Detail = NonNullable<Awaited<ReturnType<typeof getPrincipal>>>;
export type Role = Awaited<ReturnType<typeof listRoles>>[number];

export const BASE = "/settings/users";
export const TABLE_ID = "principals-table";
/** Fired after a change; the table reloads itself on it. */
export const CHANGED_EVENT = "principals-changed";
export const ADD_DIALOG_ID = "add-principal";
export const ADD_BODY_ID = "add-principal-body";
/** The one dialog the per-row Edit / Roles / Reset password links load their form into. */
export const DIALOG_ID = "principal-dialog";
export const DIALOG_BODY_ID = "principal-dialog-body";

export const TYPE_LABEL: Record<PrincipalType, string> = { user: "User", service: "Application/Service" };
