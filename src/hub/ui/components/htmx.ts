// Small request helpers for htmx: is this an htmx request, for which target, and response headers.
import type { Context } from "hono";
import type { HubEnv } from "../../context";

type Ctx = Context<HubEnv>;

export const isHtmx = (c: Ctx) => c.req.header("hx-request") === "true" && !c.req.header("hx-history-restore-request");

/** True when htmx asks for just the element with this id (table refresh, filter, pager). */
export const wantsPartial = (c: Ctx, id: string) => isHtmx(c) && c.req.header("hx-target") === id;

/** The same URL answers with a page or a fragment, so caches must keep them apart. */
export function varyOnHtmx(c: Ctx) {
  c.header("Vary", "HX-Request, HX-Target");
}

/** Tells htmx to close open dialogs and fire refresh events (e.g. "tokens-changed"). */
export function hxTrigger(c: Ctx, ...events: string[]) {
  c.header("HX-Trigger", JSON.stringify(Object.fromEntries(events.map((e) => [e, true]))));
}
