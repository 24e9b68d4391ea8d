// What a page says when there is nothing to list, and flash messages after an action.
import type { Child } from "hono/jsx";

export function EmptyState(props: { title: string; children?: Child }) {
  return (
    <div class="empty-state">
      <p class="empty-title">{props.title}</p>
      {props.children}
    </div>
  );
}

/** Why a list shows no rows: paged past the end, filtered to nothing, or nothing yet. */
export function ListEmpty(props: { total: number; filtered: boolean; noun: string; firstPage: string; clear: string; children?: Child }) {
  if (props.total > 0) {
    return (
      <EmptyState title="This page is past the end of the list.">
        <p>
          <a href={props.firstPage}>Go to the first page</a>
        </p>
      </EmptyState>
    );
  }
  if (props.filtered) {
    return (
      <EmptyState title={`No ${props.noun} match this filter.`}>
        <p>
          <a href={props.clear}>Clear the filter</a>
        </p>
      </EmptyState>
    );
  }
  return <EmptyState title={`No ${props.noun} yet.`}>{props.children}</EmptyState>;
}

/** The region outcome messages go to; htmx responses fill it out-of-band. */
export function Flash(props: { message?: { kind: "success" | "error"; text: string } | null; oob?: boolean }) {
  const m = props.message;
  return (
    <div id="flash" aria-live="polite" hx-swap-oob={props.oob ? "true" : undefined}>
      {m ? (
        <p class={`alert ${m.kind}`} role={m.kind === "error" ? "alert" : "status"}>
          {m.text}
        </p>
      ) : null}
    </div>
  );
}
