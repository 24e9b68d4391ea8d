// Settings index (/settings): hub-wide security settings, and the Target Instance selector
// that per-instance settings pages (stored credentials, CA accounts, external certificate
// managers) will hang off. Those pages do not exist yet, so this shows only what is real:
// the selected instance's facts.
import { Hono, type Context } from "hono";
import { getInstanceView, listInstanceChoices } from "../../../db/instances";
import type { HubEnv } from "../../context";
import { instanceView } from "../../fleet/view";
import { EmptyState, varyOnHtmx, wantsPartial } from "../components";
import { Layout } from "../layout";
import { InstanceFacts } from "./instancePartials";

type Ctx = Context<HubEnv>;
const TARGET_ID = "target-instance";

async function loadTarget(c: Ctx) {
  const { db, fleet } = c.get("deps");
  const find = c.req.query("find")?.trim().slice(0, 100) || undefined;
  const wanted = c.req.query("instance");
  // The picker lists a bounded page of matches; the wanted instance is loaded by id even
  // when it is not among them.
  const [{ rows: choices, more }, wantedRow] = await Promise.all([
    listInstanceChoices(db, { q: find, limit: 100 }),
    wanted ? getInstanceView(db, wanted) : undefined,
  ]);
  const row = wantedRow ?? (choices[0] ? await getInstanceView(db, choices[0].id) : undefined);
  if (row && !choices.some((i) => i.id === row.instance.id)) choices.unshift({ id: row.instance.id, hostname: row.instance.hostname });
  return { choices, more, find, selected: row ? instanceView(row, fleet) : undefined, missing: wanted && !wantedRow ? wanted : undefined };
}

function TargetInstance(props: { t: Awaited<ReturnType<typeof loadTarget>> }) {
  const { choices, more, find, selected, missing } = props.t;
  if (choices.length === 0 && !find) {
    return (
      <div id={TARGET_ID}>
        <EmptyState title="No instances have joined yet.">
          <p>
            Per-instance settings need a joined instance. <a href="/">The dashboard</a> shows how to join the first one.
          </p>
        </EmptyState>
      </div>
    );
  }
  return (
    <div id={TARGET_ID}>
      <form method="get" action="/settings" class="toolbar" hx-get="/settings" hx-target={`#${TARGET_ID}`} hx-swap="outerHTML" hx-push-url="true" hx-trigger="change, submit">
        <input type="search" name="find" value={find ?? ""} placeholder="Find by hostname or id" aria-label="Find instance" maxlength={100} />
        <label class="inline">
          Target Instance{" "}
          <select name="instance">
            {choices.map((i) => (
              <option value={i.id} selected={i.id === selected?.id}>
                {i.hostname} ({i.id})
              </option>
            ))}
          </select>
        </label>
        <noscript>
          <button type="submit">Show</button>
        </noscript>
      </form>
      {more ? <p class="muted small">Showing the first {choices.length} matches; type part of a hostname to narrow the list.</p> : null}
      {find && choices.length === 0 ? <p class="alert warning">No instance matches “{find}”.</p> : null}
      {missing ? <p class="alert warning">No instance with id {missing}; showing {selected?.hostname}.</p> : null}
      {selected ? (
        <div class="card">
          <h3>
            <a href={`/instances/${selected.id}`}>{selected.hostname}</a>
          </h3>
          <InstanceFacts i={selected} />
        </div>
      ) : null}
    </div>
  );
}

export const settingsPages = new Hono<HubEnv>().get("/settings", async (c) => {
  const t = await loadTarget(c);
  varyOnHtmx(c);
  if (wantsPartial(c, TARGET_ID)) return c.html(<TargetInstance t={t} />);
  return c.html(
    <Layout title="Settings" auth={c.get("auth")} active="settings">
      <h2>Security</h2>
      <div class="cards">
        <a class="card link-card" href="/settings/users">
          <strong>Users</strong>
          <span class="muted">Security principals (users and applications/services), their roles, disabling and password resets.</span>
        </a>
        <a class="card link-card" href="/settings/api-access">
          <strong>API Access</strong>
          <span class="muted">Joining keys for instances and API tokens for the JSON API: create, retire, revoke, see last use.</span>
        </a>
        <a class="card link-card" href="/audit">
          <strong>Audit Log</strong>
          <span class="muted">Every admin action and sign-in attempt.</span>
        </a>
      </div>

      <h2>Per-instance settings</h2>
      <p class="muted">
        Stored credentials, certificate authority accounts and external certificate manager paths stay per instance: pick the target instance,
        then edit its settings. Editing them from the hub comes in a later version; for now this shows what the hub knows about the instance.
      </p>
      <TargetInstance t={t} />
    </Layout>,
  );
});
