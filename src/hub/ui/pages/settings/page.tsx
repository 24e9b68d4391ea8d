// The frame of the scoped Settings pages: layout with the Settings sub-navigation (links keep
// the scope), the scope picker, the flash region, and how a settings form answers (including
// the Delete button of a settings list).
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { HubEnv } from "../../../context";
import { Flash, isHtmx, readForm } from "../../components";
import { Layout, type NavKey } from "../../layout";
import { applyRuleError } from "../../rule-errors";
import { readScope, ScopePicker, scopeQuery, type ScopeState } from "../../scope-picker";

export type Ctx = Context<HubEnv>;
export type FlashMessage = Parameters<typeof Flash>[0]["message"];

export function SettingsPage(props: { c: Ctx; title: string; active: NavKey; path: string; s: ScopeState; flash?: FlashMessage; intro?: Child; children?: Child }) {
  const { c, s } = props;
  return (
    <Layout title={props.title} auth={c.get("auth")} active={props.active} scopeQuery={scopeQuery(s.scope)}>
      <Flash message={props.flash} />
      {props.intro ? <p class="muted">{props.intro}</p> : null}
      <ScopePicker s={s} path={props.path} />
      {props.children}
    </Layout>
  );
}

/** A fixed message for ?done=<code> (never text from the URL itself). */
export function doneFlash(c: Ctx, messages: Record<string, string>): FlashMessage {
  const text = messages[c.req.query("done") ?? ""];
  return text ? { kind: "success", text } : null;
}

/** After a successful change: back to the page at the same scope, with a done code. */
export function redirectDone(c: Ctx, path: string, s: ScopeState["scope"], done: string) {
  const to = `${path}${scopeQuery(s, { done })}`;
  if (isHtmx(c)) {
    c.header("HX-Redirect", to);
    return c.body(null, 204);
  }
  return c.redirect(to, 303);
}

/** The scope a settings form posted (hidden scope/scopeId fields). */
export function postedScope(f: { one(name: string): string }) {
  return { scope: f.one("scope").slice(0, 16), scopeId: f.one("scopeId").slice(0, 128) };
}

/**
 * Answers POST <path>/:id/delete of a settings list: `remove` applies the rule; success goes back
 * to the page at the posted scope with done=deleted, a refusal is shown as a flash (404 for an
 * unknown id, 409 otherwise, e.g. while a certificate still uses the item).
 */
export async function answerDelete(
  c: Ctx,
  path: string,
  remove: (id: string) => Promise<unknown>,
  render: (s: ScopeState, flash: FlashMessage, status: 404 | 409) => Response | Promise<Response>,
) {
  const f = await readForm(c);
  const s = await readScope(c, postedScope(f));
  try {
    await remove(c.req.param("id") ?? "");
    return redirectDone(c, path, s.scope, "deleted");
  } catch (err) {
    const form = applyRuleError({ values: {}, errors: {} }, err, () => false);
    const status = (err as { status?: number }).status === 404 ? 404 : 409;
    const flash = { kind: "error" as const, text: form.formError ?? "Not deleted." };
    if (isHtmx(c)) return c.html(<Flash message={flash} />, status);
    return render(s, flash, status);
  }
}
