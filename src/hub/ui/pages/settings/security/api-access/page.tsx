// The whole API Access page, and the show-once panel with a new token's secret.
import { canWrite, ROLE } from "../../../../../../db/roles";
import type { issueToken } from "../../../../../core/tokens";
import { Flash, type FormState, hubFingerprint, hubUrlOf, SecretOnce } from "../../../../components";
import { FormDialog } from "../../../../dialogs";
import { Layout } from "../../../../layout";
import { ADD_BODY_ID, ADD_DIALOG_ID, type Ctx } from "./common";
import { AddTokenForm, type FormChoices } from "./forms";
import { type Filter, type ListData, TokensTable, TokensToolbar } from "./table";

export type Created = Awaited<ReturnType<typeof issueToken>>;

export function CreatedPanel(props: { c: Ctx; created: Created }) {
  const { c, created } = props;
  const hubUrl = hubUrlOf(c);
  const joining = created.role === ROLE.managedInstance;
  return (
    <SecretOnce
      title={created.title}
      clientId={created.clientId}
      secret={created.secret}
      join={joining ? { hubUrl, fingerprint: hubFingerprint(c) } : null}
      apiExample={joining ? null : { hubUrl }}
    />
  );
}

export function ApiAccessPage(props: {
  c: Ctx;
  filter: Filter;
  data: ListData;
  choices: FormChoices;
  add: FormState;
  addOpen?: boolean;
  created?: Created;
  flash?: Parameters<typeof Flash>[0]["message"];
}) {
  const { c, filter } = props;
  const auth = c.get("auth");
  return (
    <Layout title="Settings › Security › API Access" auth={auth} active="api-access">
      <Flash message={props.flash} />
      <div id="token-created">{props.created ? <CreatedPanel c={c} created={props.created} /> : null}</div>
      <p class="muted">
        API tokens are a client ID and secret owned by a security principal and scoped to one of its roles. Joining keys (role “Management Hub
        Managed Instance”) let instances join; administrator and read-only tokens use the JSON API with HTTP Basic. Retire a key to stop new
        joins while joined instances keep working; revoke it to cut off the key and every instance joined with it.
      </p>
      <TokensToolbar filter={filter} roles={props.data.roles} auth={auth} />
      <TokensTable data={props.data} filter={filter} auth={auth} />
      {canWrite(auth.roles) ? (
        <FormDialog id={ADD_DIALOG_ID} label="Add API Token" bodyId={ADD_BODY_ID} open={props.addOpen}>
          <AddTokenForm form={props.add} choices={props.choices} auth={auth} />
        </FormDialog>
      ) : null}
    </Layout>
  );
}
