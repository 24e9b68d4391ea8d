// The dialog pattern of the admin pages, server side. public/app.js does the client side: a
// link with data-open shows its <dialog>, data-close and the "close-dialog" event hide it.
// Each dialog form posts into its .form-host, so a 422 re-renders the form in place.
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { HubEnv } from "../context";
import { Flash, hxTrigger } from "./components";

type Ctx = Context<HubEnv>;

/**
 * The toolbar's "Add …" link: opens `dialog`, or without JavaScript loads `href`, the page
 * with the dialog already open. Read-only viewers get a note instead.
 */
export function AddButton(props: { canWrite: boolean; href: string; dialog: string; label: string; noun: string }) {
  if (!props.canWrite) return <span class="muted">Read-only access: you can view {props.noun} but not change them.</span>;
  return (
    <a href={props.href} class="button primary" data-open={`#${props.dialog}`}>
      {props.label}
    </a>
  );
}

/** A <dialog> around a .form-host; `loads` marks a body that htmx fills per opener (app.js). */
export function FormDialog(props: { id: string; label: string; bodyId: string; open?: boolean; loads?: boolean; children: Child }) {
  return (
    <dialog id={props.id} open={props.open} aria-label={props.label}>
      <div class="form-host" id={props.bodyId} data-dialog-body={props.loads || undefined}>
        {props.children}
      </div>
    </dialog>
  );
}

/** Cancel (a link back to the list, so it also works as a page) and the submit button. */
export function DialogActions(props: { cancel: string; submit: string }) {
  return (
    <div class="dialog-actions">
      <a href={props.cancel} class="button" data-close>
        Cancel
      </a>
      <button type="submit" class="primary">
        {props.submit}
      </button>
    </div>
  );
}

/**
 * The htmx answer to a dialog form that succeeded: close the dialog, fire `refresh` so the
 * list reloads itself, show `message` out of band. `body` replaces the form, so a fresh one
 * is there when the dialog opens again.
 */
export function dialogDone(c: Ctx, opts: { refresh: string; message: string; body?: Child; status?: 200 | 201 }) {
  hxTrigger(c, "close-dialog", opts.refresh);
  return c.html(
    <>
      {opts.body}
      <Flash oob message={{ kind: "success", text: opts.message }} />
    </>,
    opts.status ?? 200,
  );
}
