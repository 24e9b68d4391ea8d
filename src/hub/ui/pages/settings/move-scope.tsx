// "Move to another scope" on the Stored Credentials and Certificate Authorities pages: the
// same choice as the scope picker at the top (All instances / a group / one instance, same
// field names scope, group, instance) inside a POST form on one row. The page's own scope
// travels in the action's query string, so the form's scope fields are the move's target. A
// refusal (something using the object would lose access) is shown on the scope field.
// The instance list is the picker's first page; "Find instance" reaches any other: the same
// POST with op=find re-renders the form with the matches (the Instances page's search), the
// first one picked, and moves nothing. htmx sends it while typing and swaps only the choices
// (the search box keeps focus); Enter or the Find button does it with or without JavaScript.
// `answerMove` is the POST <path>/:id/scope handler both pages share.
import { ScopeInputSchema, type ScopeInput, type Scope } from "../../../core/scope";
import { Csrf, FieldError, FormError, type FormState, isHtmx, readForm } from "../../components";
import { applyRuleError } from "../../rule-errors";
import { choiceLabel, instanceChoices, readScope, scopeQuery, type InstanceChoice, type ScopeState } from "../../scope-picker";
import { type Ctx, type FlashMessage, redirectDone } from "./page";

/** A move form to show open with its errors (a refused move without htmx). */
export type Moving = { id: string; form: FormState };

/** The move form of one row; open (and showing its errors) when `form` is given. */
export function MoveScopeForm(props: { c: Ctx; s: ScopeState; action: string; current: Scope; form?: FormState; hint?: string }) {
  const { c, s, current } = props;
  const form = props.form ?? { values: {}, errors: {} };
  const url = `${props.action}${scopeQuery(s.scope)}`;
  // Ids for htmx to swap this form's choices only (several rows each have a move form).
  const key = `move-${props.action.replace(/[^A-Za-z0-9_-]/g, "-").replace(/^-+/, "")}`;
  const value = (name: string) => (typeof form.values[name] === "string" ? (form.values[name] as string) : undefined);
  const search = props.form ? s.moveSearch : undefined;
  const picked = value("scope") ?? current.scope;
  const pickedGroup = value("group") ?? (current.scope === "group" ? current.scopeId : "");
  const pickedInstance = value("instance") ?? (current.scope === "instance" ? current.scopeId : "");
  // The current group or instance is always a choice, even beyond the picker's first page, and
  // so is the instance just picked (a refused move keeps it picked).
  const groups = current.scope === "group" && !s.groups.includes(current.scopeId) ? [current.scopeId, ...s.groups] : s.groups;
  const choices: InstanceChoice[] = [...(search?.choices ?? s.choices)];
  for (const id of [pickedInstance, current.scope === "instance" ? current.scopeId : ""]) {
    if (id && !choices.some((i) => i.id === id)) choices.unshift({ id, hostname: id });
  }
  const shown = search ? search.choices.length : s.choices.length;
  const more = search ? search.more : s.more;
  const error = form.errors.scope ?? form.errors.scopeId;
  return (
    <details class="form-host replace-secret move-scope" open={!!props.form}>
      <summary>Move to another scope</summary>
      <form method="post" action={url} hx-post={url} hx-target="closest .form-host" hx-swap="outerHTML" novalidate>
        <Csrf auth={c.get("auth")} />
        <FormError form={form} />
        {/* First in the form, so Enter in the search box finds (the default button) rather than moves. */}
        <p class="move-find">
          <label>
            Find instance{" "}
            <input
              type="search"
              name="find"
              value={search?.find ?? ""}
              placeholder="hostname, name or id"
              maxlength={100}
              hx-post={url}
              hx-trigger="input changed delay:300ms"
              hx-vals={JSON.stringify({ op: "find" })}
              hx-target={`#${key}`}
              hx-select={`#${key}`}
              hx-swap="outerHTML"
            />
          </label>{" "}
          <button type="submit" name="op" value="find" class="small">
            Find
          </button>
        </p>
        <fieldset class="choice scope-choice" id={key} aria-invalid={error ? "true" : undefined}>
          <legend>Applies to</legend>
          <label>
            <input type="radio" name="scope" value="global" checked={picked === "global"} /> All instances
          </label>
          <label>
            <input type="radio" name="scope" value="group" checked={picked === "group"} disabled={groups.length === 0} /> Group{" "}
            <select name="group" aria-label="Group" disabled={groups.length === 0}>
              {groups.length === 0 ? <option value="">no groups yet</option> : null}
              {groups.map((g) => (
                <option value={g} selected={pickedGroup === g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input type="radio" name="scope" value="instance" checked={picked === "instance"} disabled={choices.length === 0} /> Target Instance{" "}
            <select name="instance" aria-label="Target Instance">
              {choices.map((i) => (
                <option value={i.id} selected={pickedInstance === i.id}>
                  {choiceLabel(i)}
                </option>
              ))}
            </select>
          </label>
          {search && search.choices.length === 0 ? <p class="alert warning">No instance matches “{search.find}”.</p> : null}
          {more ? (
            <p class="muted small-print">
              Showing the first {shown} {search ? "matches" : "instances"}: Find instance reaches any other.
            </p>
          ) : null}
          {error ? <FieldError errors={{ scope: error }} name="scope" /> : null}
        </fieldset>
        {props.hint ? <p class="muted small-print">{props.hint}</p> : null}
        <button type="submit" class="small primary">
          Move
        </button>
      </form>
    </details>
  );
}

/** The target scope a move form posted (its scope field and the group or instance chosen with it). */
export function readMoveTarget(f: { one(name: string): string }, form: FormState): ScopeInput | undefined {
  const scope = f.one("scope");
  const scopeId = scope === "group" ? f.one("group").trim() : scope === "instance" ? f.one("instance").trim() : "";
  const r = ScopeInputSchema.safeParse({ scope, ...(scopeId ? { scopeId } : {}) });
  if (r.success) return r.data;
  form.errors.scope = "Pick where it applies: All instances, a group or an instance.";
  return undefined;
}

/** A refused move: on the scope field (the rules name "scope" or "scopeId"), else the form. */
export function moveRefused(form: FormState, err: unknown): FormState {
  applyRuleError(form, err, (field) => field === "scope" || field === "scopeId");
  if (form.errors.scopeId) form.errors.scope ??= form.errors.scopeId;
  return form;
}

/**
 * Answers POST <path>/:id/scope: `load` finds the row (a throw is 404 "No such <what>"), `move`
 * applies the rule; success goes to the page at the new scope with done=moved. A refused or
 * unreadable target is shown on the row's move form: the form alone for htmx, else the whole
 * page (`renderPage`, at the page's own scope from the query string) with that form open.
 * op=find (the form's Find instance) answers the same way with the matches, 200, moving nothing.
 */
export async function answerMove<Row extends { id: string }>(
  c: Ctx,
  o: {
    path: string;
    what: string;
    load: (id: string) => Promise<Row>;
    move: (id: string, target: ScopeInput) => Promise<{ scope: Scope["scope"]; scopeId?: string | null }>;
    renderForm: (s: ScopeState, row: Row, form: FormState) => ReturnType<typeof MoveScopeForm>;
    renderPage: (s: ScopeState, flash: FlashMessage, moving: Moving) => Response | Promise<Response>;
  },
) {
  const f = await readForm(c);
  // The page's scope is in the query string; the form's scope fields are the target.
  const s = await readScope(c);
  let row: Row;
  try {
    row = await o.load(c.req.param("id") ?? "");
  } catch {
    return c.text(`No such ${o.what}. It may have been deleted.`, 404);
  }
  const form: FormState = { values: { scope: f.one("scope"), group: f.one("group"), instance: f.one("instance") }, errors: {} };
  // The form's own instance search travels with every post, so a refused move still lists what was picked.
  const find = f.one("find").trim().slice(0, 100);
  if (find) {
    const { rows, more } = await instanceChoices(c.get("deps").db, find);
    s.moveSearch = { find, choices: rows, more };
  }
  if (f.one("op") === "find") {
    // A search, not a move: the first match is picked (the admin still presses Move).
    if (s.moveSearch?.choices.length) {
      form.values.scope = "instance";
      if (!s.moveSearch.choices.some((i) => i.id === form.values.instance)) form.values.instance = s.moveSearch.choices[0].id;
    }
    if (isHtmx(c)) return c.html(o.renderForm(s, row, form));
    const page = await o.renderPage(s, null, { id: row.id, form });
    return new Response(page.body, { status: 200, headers: page.headers });
  }
  const target = readMoveTarget(f, form);
  if (target) {
    try {
      const moved = await o.move(row.id, target);
      return redirectDone(c, o.path, { scope: moved.scope, scopeId: moved.scopeId ?? "" }, "moved");
    } catch (err) {
      moveRefused(form, err);
    }
  }
  if (isHtmx(c)) return c.html(o.renderForm(s, row, form), 422);
  return o.renderPage(s, { kind: "error", text: `The ${o.what} was not moved: see below.` }, { id: row.id, form });
}
