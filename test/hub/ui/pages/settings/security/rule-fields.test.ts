// The Users and API Access forms put a rule's message next to the field the rule names
// (RuleError.field, set in src/hub/core/principals.ts and tokens.ts), never by matching the
// message's wording: rewording a rule must not move its message off the field. Each check
// looks for the message inside that field's error slot (<span id="err-<field>">).
import { describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { conflict, RuleError } from "../../../../../../src/hub/core/errors";
import type { FormState } from "../../../../../../src/hub/ui/components";
import { applyTokenRuleError } from "../../../../../../src/hub/ui/pages/settings/security/api-access/validation";
import { addUserForm, editForm, formShows } from "../../../../../../src/hub/ui/pages/settings/security/users/validation";
import { applyRuleError } from "../../../../../../src/hub/ui/rule-errors";
import { useSignedInHub } from "../../../../../helpers/hub-fixture";
import { post } from "../../helpers";

const fx = useSignedInHub();

/** The text of the error slot of `field`, or null when the form shows none there. */
function fieldError(html: string, field: string): string | null {
  const m = html.match(new RegExp(`<span class="field-error" id="err-${field}"[^>]*>([^<]*)</span>`));
  return m ? m[1].replace(/&quot;/g, '"').replace(/&#39;/g, "'") : null;
}
const emptyForm = (): FormState => ({ values: {}, errors: {} });

describe("the mapping follows the rule's field, whatever its wording", () => {
  test("API Access: each field a token rule can name lands on the form's field for it", () => {
    const cases: [string, string][] = [
      ["principalId", "principalId"],
      ["role", "role"],
      ["expiresAt", "expiresOn"], // the form's expiry is a date box
      ["title", "title"],
      ["maxUses", "maxUses"],
    ];
    for (const [ruleField, formField] of cases) {
      const form = applyTokenRuleError(emptyForm(), new RuleError(400, "words nobody matches on", ruleField));
      expect(Object.keys(form.errors)).toEqual([formField]);
      expect(form.errors[formField]).toStartWith("Words nobody matches on.");
    }
    // A rule naming no field (or one the form does not have) is the form's message.
    expect(applyTokenRuleError(emptyForm(), new RuleError(400, "expiry must be in the future")).formError).toBe("Expiry must be in the future.");
    expect(applyTokenRuleError(emptyForm(), new RuleError(400, "does not hold the role", "somethingElse")).errors).toEqual({});
  });

  test("Users: a rule's field is shown when that form has it, else the form's message", () => {
    const add = applyRuleError(emptyForm(), conflict("reworded completely", "username"), formShows(addUserForm));
    expect(add.errors).toEqual({ username: "Reworded completely." });
    const edit = applyRuleError(emptyForm(), new RuleError(400, "any words", "disabled"), formShows(editForm));
    expect(edit.errors).toEqual({ disabled: "Any words." });
    const elsewhere = applyRuleError(emptyForm(), new RuleError(400, "username is taken", "password"), formShows(editForm));
    expect(elsewhere.errors).toEqual({});
    expect(elsewhere.formError).toBe("Username is taken.");
  });
});

describe("the rules name their fields, and the pages show them there", () => {
  test("Users: a taken username, dropping your own administrator role", async () => {
    const taken = await post(fx.admin, "/settings/users", { type: "user", username: "admin", password: "long-enough-password", role: "readonly", title: "", email: "" }, { htmx: "add-principal-body" });
    expect(taken.status).toBe(422);
    expect(fieldError(await taken.text(), "username")).toBe("This username is taken.");

    const [me] = await fx.hub.deps.db.all<{ id: string }>(sql`select principal_id as id from users where username = 'admin'`);
    const roles = await post(fx.admin, `/settings/users/${me.id}/roles`, { roles: "readonly" }, { htmx: "principal-dialog-body" });
    expect(roles.status).toBe(422);
    expect(fieldError(await roles.text(), "roles")).toBe("You cannot remove your own administrator role.");

    // The JSON API names the field too.
    const api = await fx.admin.json("/api/v1/principals", "POST", { type: "user", username: "ADMIN", password: "long-enough-password", roles: ["readonly"] });
    expect(api.status).toBe(400);
    expect(await api.json()).toEqual({ error: "this username is taken", field: "username" });
  });

  test("API Access: a role the principal does not hold, a disabled or missing principal", async () => {
    const made = await fx.admin.json("/api/v1/principals", "POST", { type: "service", title: "Rule fields robot", roles: ["readonly"] });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };
    const add = (fields: Record<string, string>) =>
      post(fx.admin, "/settings/api-access", { title: "x", group: "", expiresInDays: "", expiresOn: "", maxUses: "", ...fields }, { htmx: "add-token-body" });

    const role = await add({ principalId: id, role: "administrator" });
    expect(role.status).toBe(422);
    const roleError = fieldError(await role.text(), "role");
    expect(roleError).toContain('does not hold the role "administrator"');
    expect(roleError).toContain("Use the roles icon on Security › Users");

    expect((await fx.admin.json(`/api/v1/principals/${id}`, "PATCH", { disabled: true })).status).toBe(200);
    const disabled = await add({ principalId: id, role: "readonly" });
    expect(disabled.status).toBe(422);
    expect(fieldError(await disabled.text(), "principalId")).toBe('Principal "Rule fields robot" is disabled.');

    const missing = await add({ principalId: "p_missing", role: "readonly" });
    expect(fieldError(await missing.text(), "principalId")).toBe("No such principal.");

    const api = await fx.admin.json("/api/v1/tokens", "POST", { title: "x", role: "administrator", principalId: "p_missing" });
    expect(api.status).toBe(400);
    expect(((await api.json()) as { field?: string }).field).toBe("principalId");
  });
});
