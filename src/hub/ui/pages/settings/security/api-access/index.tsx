// Settings › Security › API Access (/settings/api-access): API tokens and joining keys.
// "Add API Token" picks a principal, title, scoped role, optional group, expiry and max
// uses; the secret is shown once in the response that created it and never again.
// Issuing/revoking rules and auditing live in src/hub/core/tokens.ts (shared with API and CLI).
// This file holds the routes and how they answer; see ./table, ./forms, ./page, ./validation.
import { Hono } from "hono";
import { z } from "zod";
import type { HubEnv } from "../../../../../context";
import { actorOf } from "../../../../../middleware/auth";
import { RuleError } from "../../../../../core/errors";
import { changeTokenState, issueToken } from "../../../../../core/tokens";
import { emptyForm, fieldErrors, Flash, type FormState, hxTrigger, isHtmx, readForm, varyOnHtmx, wantsPartial } from "../../../../components";
import { dialogDone } from "../../../../dialogs";
import { BASE, CHANGED_EVENT, type Ctx, TABLE_ID } from "./common";
import { AddTokenForm, loadChoices } from "./forms";
import { ApiAccessPage, type Created, CreatedPanel } from "./page";
import { loadList, readFilter, TokensTable } from "./table";
import { addTokenForm, applyTokenRuleError } from "./validation";

const DONE: Record<string, string> = {
  revoked: "Token revoked. It no longer works, and instances joined with it are cut off.",
  retired: "Token retired. No new joins; instances already joined keep working.",
};

async function fullPage(c: Ctx, extra: { add?: FormState; addOpen?: boolean; created?: Created; flash?: Parameters<typeof Flash>[0]["message"] }, status: 200 | 201 | 422 = 200) {
  const filter = readFilter(c);
  const [data, choices] = await Promise.all([loadList(c, filter), loadChoices(c)]);
  return c.html(<ApiAccessPage c={c} filter={filter} data={data} choices={choices} add={extra.add ?? emptyForm()} {...extra} />, status);
}

async function changeState(c: Ctx, state: "revoked" | "retired") {
  const { db, fleet } = c.get("deps");
  const t = await changeTokenState(db, c.req.param("id") ?? "", state, actorOf(c));
  const done = state === "revoked" ? "revoked" : "retired";
  if (t) fleet.invalidateKey(t.id); // wakes and cuts off instances joined with a revoked key
  const message = t ? { kind: "success" as const, text: `“${t.title}”: ${DONE[done]}` } : { kind: "error" as const, text: "No such token." };
  if (isHtmx(c)) {
    hxTrigger(c, CHANGED_EVENT);
    return c.html(<Flash message={message} />, t ? 200 : 404);
  }
  return t ? c.redirect(`${BASE}?done=${done}`, 303) : c.redirect(BASE, 303);
}

export const apiAccessPages = new Hono<HubEnv>()
  .get(BASE, async (c) => {
    varyOnHtmx(c);
    if (wantsPartial(c, TABLE_ID)) {
      const filter = readFilter(c);
      return c.html(<TokensTable data={await loadList(c, filter)} filter={filter} auth={c.get("auth")} />);
    }
    const done = DONE[c.req.query("done") ?? ""];
    return fullPage(c, { addOpen: c.req.query("add") === "1", flash: done ? { kind: "success", text: done } : null });
  })

  .post(BASE, async (c) => {
    const auth = c.get("auth");
    const f = await readForm(c);
    const form: FormState = { values: f.values, errors: {} };
    const r = addTokenForm.safeParse({
      principalId: f.one("principalId"),
      title: f.one("title"),
      role: f.one("role"),
      group: f.one("group"),
      expiresInDays: f.one("expiresInDays"),
      expiresOn: f.one("expiresOn"),
      maxUses: f.one("maxUses"),
    });
    if (r.success) {
      const v = r.data;
      try {
        const created = await issueToken(
          c.get("deps").db,
          {
            principalId: v.principalId,
            title: v.title,
            role: v.role,
            group: v.group || null,
            expiresAt: v.expiresOn ?? (v.expiresInDays ? Date.now() + v.expiresInDays * 86_400_000 : null),
            maxUses: v.maxUses,
          },
          actorOf(c),
        );
        // The response holding the secret must not be stored anywhere.
        c.header("Cache-Control", "no-store");
        if (!isHtmx(c)) return fullPage(c, { created }, 201);
        const body = (
          <>
            <AddTokenForm form={emptyForm()} choices={await loadChoices(c)} auth={auth} />
            <div id="token-created" hx-swap-oob="true">
              <CreatedPanel c={c} created={created} />
            </div>
          </>
        );
        return dialogDone(c, { refresh: CHANGED_EVENT, message: `API token “${created.title}” created.`, body, status: 201 });
      } catch (err) {
        if (err instanceof RuleError) applyTokenRuleError(form, err);
        else if (err instanceof z.ZodError) form.formError = err.issues[0]?.message ?? "Invalid input";
        else throw err;
      }
    } else form.errors = fieldErrors(r.error);
    if (isHtmx(c)) return c.html(<AddTokenForm form={form} choices={await loadChoices(c)} auth={auth} />, 422);
    return fullPage(c, { add: form, addOpen: true }, 422);
  })

  .post(`${BASE}/:id/revoke`, (c) => changeState(c, "revoked"))
  .post(`${BASE}/:id/retire`, (c) => changeState(c, "retired"));
