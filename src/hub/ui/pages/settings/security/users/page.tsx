// Whole pages: the list with its two dialogs, and a single form on a page of its own.
import type { Child } from "hono/jsx";
import { canWrite } from "../../../../../../db/roles";
import { Flash, type FormState } from "../../../../components";
import { FormDialog } from "../../../../dialogs";
import { Layout } from "../../../../layout";
import { ADD_BODY_ID, ADD_DIALOG_ID, BASE, type Ctx, DIALOG_BODY_ID, DIALOG_ID } from "./common";
import { AddForm } from "./forms";
import { type Filter, type ListData, PrincipalsTable, PrincipalsToolbar } from "./table";

export function ListPage(props: {
  c: Ctx;
  filter: Filter;
  data: ListData;
  add: FormState;
  /** Render the add dialog already open (?add=1 without JavaScript, or after a failed plain post). */
  addOpen?: boolean;
  flash?: Parameters<typeof Flash>[0]["message"];
}) {
  const { c, filter, data } = props;
  const auth = c.get("auth");
  return (
    <Layout title="Settings › Security › Users" auth={auth} active="users">
      <Flash message={props.flash} />
      <p class="muted">
        Users sign in to this hub; Applications/Services hold API tokens (joining keys for instances, or JSON API access). Roles decide what
        each may do.
      </p>
      <p class="explain" id="principal-explained">
        A <strong>Security Principal</strong> is anyone or anything that acts on the hub: a person (user) or an application/service. The
        seeded service “Hub Managed Instance” holds the role <strong>Management Hub Managed Instance</strong>, which may only join instances.
      </p>
      <PrincipalsToolbar filter={filter} auth={auth} />
      <PrincipalsTable rows={data.rows} total={data.total} roles={data.roles} filter={filter} auth={auth} />
      {canWrite(auth.roles) ? (
        <>
          <FormDialog id={ADD_DIALOG_ID} label="Add user or service (new Security Principal)" bodyId={ADD_BODY_ID} open={props.addOpen}>
            <AddForm form={props.add} auth={auth} />
          </FormDialog>
          <FormDialog id={DIALOG_ID} label="Security principal" bodyId={DIALOG_BODY_ID} loads>
            <p class="muted">Loading…</p>
          </FormDialog>
        </>
      ) : null}
    </Layout>
  );
}

/** A form shown on its own page (no JavaScript, or a direct link). */
export function FormPage(props: { c: Ctx; title: string; children: Child }) {
  const auth = props.c.get("auth");
  return (
    <Layout title={props.title} auth={auth} active="users">
      <p>
        <a href={BASE}>‹ Security › Users</a>
      </p>
      <div class="card form-host" id="principal-form-host">
        {props.children}
      </div>
    </Layout>
  );
}
