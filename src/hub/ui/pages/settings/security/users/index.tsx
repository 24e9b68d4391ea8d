// Security › Users (/settings/users): security principals of type User or
// Application/Service, the seed's "Add New Security Principal" dialog, edit/disable,
// the People+ roles dialog and password resets. The rules (self-lockout, audit, ending
// sessions on disable) live in src/hub/core/principals.ts, shared with the JSON API.
// This file holds the routes and how they answer; see ./table, ./forms, ./page, ./validation.
import { Hono } from "hono";
import type { Child } from "hono/jsx";
import { z } from "zod";
import { getPrincipal } from "../../../../../../db/principals";
import { listRoles, ROLE } from "../../../../../../db/roles";
import type { HubEnv } from "../../../../../context";
import { actorOf, requireAdmin } from "../../../../../middleware/auth";
import { addPrincipal, assignRoles, editPrincipal, endSessions, resetPassword } from "../../../../../core/principals";
import { applyRuleError } from "../../../../rule-errors";
import { emptyForm, fieldErrors, type FormState, isHtmx, readForm, varyOnHtmx, wantsPartial } from "../../../../components";
import { dialogDone } from "../../../../dialogs";
import { ADD_BODY_ID, BASE, CHANGED_EVENT, type Ctx, type Detail, DIALOG_BODY_ID, TABLE_ID } from "./common";
import { AddForm, EditForm, PasswordForm, RolesForm } from "./forms";
import { FormPage, ListPage } from "./page";
import { loadList, PrincipalsTable, readFilter } from "./table";
import { addServiceForm, addUserForm, editForm, formShows, passwordForm, rolesForm } from "./validation";

const DONE: Record<string, string> = {
  created: "Security principal created.",
  updated: "Changes saved.",
  roles: "Roles saved.",
  password: "Password reset. The user's sessions have ended.",
  sessions: "Signed out everywhere: every session of that user has ended.",
};

/** A form fragment for htmx, or the form on its own page. */
function renderForm(c: Ctx, title: string, form: Child, status: 200 | 422 = 200) {
  if (isHtmx(c)) return c.html(<>{form}</>, status);
  return c.html(
    <FormPage c={c} title={title}>
      {form}
    </FormPage>,
    status,
  );
}

/**
 * After a successful change: inside a dialog, close it and refresh the table (plus a flash
 * message); elsewhere go back to the list.
 */
function afterChange(c: Ctx, done: keyof typeof DONE, body: Child = null) {
  const target = c.req.header("hx-target");
  if (isHtmx(c) && (target === DIALOG_BODY_ID || target === ADD_BODY_ID)) {
    return dialogDone(c, { refresh: CHANGED_EVENT, message: DONE[done], body });
  }
  const to = `${BASE}?done=${done}`;
  if (isHtmx(c)) {
    c.header("HX-Redirect", to);
    return c.body(null, 204);
  }
  return c.redirect(to, 303);
}

async function principalOr404(c: Ctx) {
  const p = await getPrincipal(c.get("deps").db, c.req.param("id") ?? "");
  if (!p) return { p: undefined, res: c.html(<p class="alert error">No such security principal. It may have been removed.</p>, 404) };
  return { p, res: undefined };
}

const detailValues = (p: Detail) => ({ title: p.title, description: p.description, email: p.email ?? "" });

export const usersPages = new Hono<HubEnv>()
  .get(BASE, async (c) => {
    const filter = readFilter(c);
    const data = await loadList(c, filter);
    varyOnHtmx(c);
    if (wantsPartial(c, TABLE_ID)) {
      return c.html(<PrincipalsTable rows={data.rows} total={data.total} roles={data.roles} filter={filter} auth={c.get("auth")} />);
    }
    const done = DONE[c.req.query("done") ?? ""];
    return c.html(
      <ListPage c={c} filter={filter} data={data} add={emptyForm()} addOpen={c.req.query("add") === "1"} flash={done ? { kind: "success", text: done } : null} />,
    );
  })

  .post(BASE, async (c) => {
    const auth = c.get("auth");
    const { db } = c.get("deps");
    const f = await readForm(c);
    const form: FormState = { values: { ...f.values, password: undefined }, errors: {} };
    const type = f.one("type") || "user";
    let input: Parameters<typeof addPrincipal>[1] | undefined;
    if (type === "user") {
      const r = addUserForm.safeParse({ username: f.one("username"), password: f.one("password"), title: f.one("title"), email: f.one("email"), role: f.one("role") || ROLE.readonly });
      if (r.success) input = { type: "user", username: r.data.username, password: r.data.password, title: r.data.title || undefined, email: r.data.email, roles: [r.data.role] };
      else form.errors = fieldErrors(r.error);
    } else if (type === "service") {
      const r = addServiceForm.safeParse({ title: f.one("title"), description: f.one("description") });
      if (r.success) input = { type: "service", title: r.data.title, description: r.data.description, roles: [] };
      else form.errors = fieldErrors(r.error);
    } else {
      form.errors.type = "Pick User or Application/Service";
    }
    if (input) {
      try {
        await addPrincipal(db, input, actorOf(c));
        return afterChange(c, "created", <AddForm form={emptyForm()} auth={auth} />);
      } catch (err) {
        if (err instanceof z.ZodError) form.formError = err.issues[0]?.message ?? "Invalid input";
        else applyRuleError(form, err, formShows(type === "user" ? addUserForm : addServiceForm));
      }
    }
    // Re-show the form with the errors and the values entered (never the password).
    if (isHtmx(c)) return c.html(<AddForm form={form} auth={auth} />, 422);
    const filter = readFilter(c);
    return c.html(<ListPage c={c} filter={filter} data={await loadList(c, filter)} add={form} addOpen />, 422);
  })

  .get(`${BASE}/:id/edit`, requireAdmin, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    return renderForm(c, `Edit “${p.title}”`, <EditForm p={p} form={emptyForm(detailValues(p))} auth={c.get("auth")} />);
  })

  .post(`${BASE}/:id`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    const f = await readForm(c);
    const self = p.id === c.get("auth").principalId;
    // A disabled checkbox is not posted; keep the current state for your own account.
    const values = { ...f.values, disabled: self ? (p.disabled ? "on" : "") : f.one("disabled") };
    const form: FormState = { values, errors: {} };
    const r = editForm.safeParse({ title: f.one("title"), description: f.one("description"), email: f.one("email"), disabled: values.disabled === "on" });
    if (r.success) {
      try {
        await editPrincipal(c.get("deps").db, p.id, r.data, actorOf(c));
        return afterChange(c, "updated");
      } catch (err) {
        applyRuleError(form, err, formShows(editForm));
      }
    } else form.errors = fieldErrors(r.error);
    return renderForm(c, `Edit “${p.title}”`, <EditForm p={p} form={form} auth={c.get("auth")} />, 422);
  })

  .get(`${BASE}/:id/roles`, requireAdmin, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    const roles = await listRoles(c.get("deps").db);
    return renderForm(c, `Roles of “${p.title}”`, <RolesForm p={p} roles={roles} form={emptyForm()} auth={c.get("auth")} />);
  })

  .post(`${BASE}/:id/roles`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    const f = await readForm(c);
    const roles = await listRoles(c.get("deps").db);
    const form: FormState = { values: { roles: f.all("roles") }, errors: {} };
    const r = rolesForm.safeParse(f.all("roles"));
    if (r.success) {
      try {
        await assignRoles(c.get("deps").db, p.id, [...new Set(r.data)], actorOf(c));
        return afterChange(c, "roles");
      } catch (err) {
        applyRuleError(form, err, (field) => field === "roles");
      }
    } else form.errors.roles = "Pick roles from the list";
    return renderForm(c, `Roles of “${p.title}”`, <RolesForm p={p} roles={roles} form={form} auth={c.get("auth")} />, 422);
  })

  .post(`${BASE}/:id/sessions/revoke`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    await endSessions(c.get("deps").db, p.id, actorOf(c));
    return afterChange(c, "sessions");
  })

  .get(`${BASE}/:id/password`, requireAdmin, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    if (p.type !== "user") return c.html(<p class="alert error">Applications/Services have no password; they use API tokens.</p>, 404);
    return renderForm(c, `Reset password`, <PasswordForm p={p} form={emptyForm()} auth={c.get("auth")} />);
  })

  .post(`${BASE}/:id/password`, async (c) => {
    const { p, res } = await principalOr404(c);
    if (!p) return res;
    if (p.type !== "user") return c.html(<p class="alert error">Applications/Services have no password; they use API tokens.</p>, 404);
    const f = await readForm(c);
    const form: FormState = { values: {}, errors: {} };
    const r = passwordForm.safeParse({ password: f.one("password"), confirm: f.one("confirm") });
    if (r.success) {
      await resetPassword(c.get("deps").db, p.id, r.data.password, actorOf(c));
      return afterChange(c, "password");
    }
    form.errors = fieldErrors(r.error);
    return renderForm(c, `Reset password`, <PasswordForm p={p} form={form} auth={c.get("auth")} />, 422);
  });
