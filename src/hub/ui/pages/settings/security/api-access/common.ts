// Paths, element ids and types the API Access modules share.
import type { Context } from "hono";
import type { listRoles } from "../../../../../../db/roles";
import type { HubEnv } from "../../../../../context";

export type Ctx = Context<HubEnv>;
export type Role = Awaited<ReturnType<typeof listRoles>>[number];

export const BASE = "/settings/api-access";
export const TABLE_ID = "tokens-table";
/** Fired after a create, retire or revoke; the table reloads itself on it. */
export const CHANGED_EVENT = "tokens-changed";
export const ADD_DIALOG_ID = "add-token";
export const ADD_BODY_ID = "add-token-body";

export const roleTitle = (roles: Role[], id: string) => roles.find((r) => r.id === id)?.title ?? id;
