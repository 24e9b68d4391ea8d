// Certificates pages: the fleet-wide list (/certificates), New (/certificates/new), a managed
// certificate's page (/certificates/:id) with its actions and Edit (/certificates/:id/edit),
// and the read-only page of a certificate the hub does not manage
// (/certificates/external/:instanceId/:id). Every change goes through src/hub/core (the same
// rules as the JSON API); RuleErrors land on the form fields (../../rule-errors.ts).
// This file holds the routes and how they answer; see ./list, ./form, ./tasks, ./detail, ./external.
import { Hono } from "hono";
import { getCertificateReport } from "../../../../db/certificates";
import { getInstance } from "../../../../db/instances";
import type { HubEnv } from "../../../context";
import { RuleError } from "../../../core/errors";
import { refreshExternalScan } from "../../../core/external-managers";
import {
  createManagedCertificate,
  deleteManagedCertificate,
  getManagedCertificateDetail,
  queueCertificateAction,
  queueTaskTest,
  updateManagedCertificate,
} from "../../../core/managed-certificates";
import { actorOf, requireAdmin } from "../../../middleware/auth";
import { emptyForm, type FormState, isHtmx, readForm, varyOnHtmx, wantsPartial } from "../../components";
import { Layout } from "../../layout";
import { applyRuleError, sentence } from "../../rule-errors";
import { BASE, type Ctx } from "./common";
import { DetailLive, DetailPage, LIVE_ID } from "./detail";
import { ExternalPage } from "./external";
import { CertificateForm, loadChoices } from "./form";
import { parseCertificateForm, valuesOfDefinition } from "./form-parse";
import { CertificatesTable, ListPage, loadList, readFilter, TABLE_ID } from "./list";
import { applyTaskOp } from "./tasks";

const DONE: Record<string, string> = {
  created: "Certificate defined. The agent picks it up at its next sync (within seconds when online), runs a preflight and orders it.",
  updated: "Changes saved. The agent applies them at its next sync.",
  renew: "Renewal queued: the agent orders a new certificate now.",
  test: "Test queued: the agent checks the challenge for every domain without asking the CA.",
  deploy: "Deployment queued: the agent runs the tasks again with the current certificate.",
  "test-task": "Task test queued: the agent runs that task alone with the current certificate; its output shows under the task.",
  deleted: "Certificate deleted. The agent stops renewing it.",
  refresh: "Refresh queued: the agent rescans its external certificate managers.",
};

function doneFlash(c: Ctx) {
  const text = DONE[c.req.query("done") ?? ""];
  return text ? { kind: "success" as const, text } : null;
}

function goTo(c: Ctx, to: string) {
  if (isHtmx(c)) {
    c.header("HX-Redirect", to);
    return c.body(null, 204);
  }
  return c.redirect(to, 303);
}

function notFoundPage(c: Ctx, what: string) {
  return c.html(
    <Layout title="Certificate not found" auth={c.get("auth")} active="certificates">
      <p class="alert error">{what} It may have been deleted.</p>
      <p>
        <a href="/certificates">Back to Certificates</a>
      </p>
    </Layout>,
    404,
  );
}

/** The form on its page (or just the form for htmx), with a status. */
async function formPage(c: Ctx, form: FormState, opts: { title: string; action: string; editing?: { certId: string; instanceId: string; hostname: string } }, status: 200 | 422 = 200) {
  const choices = await loadChoices(c, form, opts.editing?.instanceId);
  const body = <CertificateForm c={c} form={form} choices={choices} action={opts.action} editing={opts.editing} />;
  if (isHtmx(c) && c.req.method === "POST") return c.html(body, status);
  return c.html(
    <Layout title={opts.title} auth={c.get("auth")} active="certificates">
      <p>
        <a href={opts.editing ? `${BASE}/${opts.editing.certId}` : BASE}>‹ {opts.editing ? "Certificate" : "Certificates"}</a>
      </p>
      {body}
    </Layout>,
    status,
  );
}

/**
 * One POST handler for the form: editor buttons (op = add / up:N / down:N / del:N / refresh)
 * re-render it with what was typed; "save" validates, then creates or updates through the rules.
 */
async function postForm(c: Ctx, opts: { title: string; action: string; editing?: { certId: string; instanceId: string; hostname: string } }) {
  const f = await readForm(c);
  const op = f.one("op") || "save";
  const values = { ...f.values };
  delete values.op;
  if (opts.editing) values.instanceId = opts.editing.instanceId;
  if (op !== "save") {
    const next = op === "refresh" ? values : applyTaskOp(op, values, f.one("newTaskType"));
    return formPage(c, { values: next ?? values, errors: {} }, opts);
  }
  const form: FormState = { values, errors: {} };
  const parsed = parseCertificateForm(values);
  if (!parsed.ok) {
    form.errors = parsed.errors;
    form.formError = "Please correct the fields marked below.";
    return formPage(c, form, opts, 422);
  }
  const core = c.get("deps");
  try {
    if (opts.editing) {
      const { instanceId: _, ...rest } = parsed.data;
      await updateManagedCertificate(core, actorOf(c), opts.editing.certId, { ...rest, keyType: rest.keyType });
      return goTo(c, `${BASE}/${opts.editing.certId}?done=updated`);
    }
    const created = await createManagedCertificate(core, actorOf(c), parsed.data);
    return goTo(c, `${BASE}/${created.id}?done=created`);
  } catch (err) {
    applyRuleError(form, err, (field) => shownField(field, !!opts.editing));
    // A field the form does not show (e.g. "deployments.0") still gets the message on top.
    if (!form.formError) form.formError = "Please correct the fields marked below.";
  }
  return formPage(c, form, opts, 422);
}

/** Fields the certificate form shows an error beside (the edit form has no instance picker). */
function shownField(field: string, editing: boolean): boolean {
  if (field === "instanceId") return !editing;
  return ["name", "domains", "keyType", "caAccountId", "challenge", "preferredChain", "profile"].includes(field) || /^(challenge|verify|deployments|renewal)\./.test(field);
}

async function certificateAction(c: Ctx, action: "renew" | "test" | "deploy" | "delete" | "test-task") {
  const id = c.req.param("id") ?? "";
  const core = c.get("deps");
  try {
    if (action === "delete") {
      await deleteManagedCertificate(core, actorOf(c), id);
      return goTo(c, `${BASE}?done=deleted`);
    }
    if (action === "test-task") {
      const index = Number(c.req.param("index"));
      if (!Number.isInteger(index) || index < 0 || index > 31) return notFoundPage(c, "No such deployment task.");
      await queueTaskTest(core, actorOf(c), id, index);
    } else await queueCertificateAction(core, actorOf(c), id, action);
    return goTo(c, `${BASE}/${encodeURIComponent(id)}?done=${action}`);
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    if (err.status === 404) return isHtmx(c) ? c.text(sentence(err.message), 404) : notFoundPage(c, sentence(err.message));
    if (isHtmx(c)) return c.text(sentence(err.message), err.status);
    const d = await getManagedCertificateDetail(core, id);
    return c.html(await DetailPage({ c, d, flash: { kind: "error", text: sentence(err.message) } }), err.status);
  }
}

async function editTarget(c: Ctx) {
  const core = c.get("deps");
  try {
    const d = await getManagedCertificateDetail(core, c.req.param("id") ?? "");
    const inst = await getInstance(core.db, d.instanceId);
    return { d, editing: { certId: d.id, instanceId: d.instanceId, hostname: inst?.hostname ?? d.instanceId } };
  } catch (err) {
    if (err instanceof RuleError && err.status === 404) return undefined;
    throw err;
  }
}

export const certificatePages = new Hono<HubEnv>()
  .get(BASE, async (c) => {
    const f = readFilter(c);
    const data = await loadList(c, f);
    varyOnHtmx(c);
    if (wantsPartial(c, TABLE_ID)) return c.html(<CertificatesTable f={f} data={data} />);
    return c.html(await ListPage({ c, f, data, flash: doneFlash(c) }));
  })
  .get(`${BASE}/new`, requireAdmin, async (c) => {
    const values: Record<string, string> = { "challenge.kind": "http-standalone" };
    const instanceId = c.req.query("instanceId");
    if (instanceId) values.instanceId = instanceId.slice(0, 64);
    return formPage(c, emptyForm(values), { title: "New certificate", action: `${BASE}/new` });
  })
  .post(`${BASE}/new`, (c) => postForm(c, { title: "New certificate", action: `${BASE}/new` }))
  .get(`${BASE}/external/:instanceId/:id`, async (c) => {
    const row = await getCertificateReport(c.get("deps").db, c.req.param("instanceId"), c.req.param("id"));
    if (!row) return notFoundPage(c, "No such certificate on that instance.");
    return c.html(await ExternalPage({ c, row, flash: doneFlash(c) }));
  })
  .post(`${BASE}/external/:instanceId/:id/refresh`, async (c) => {
    const instanceId = c.req.param("instanceId");
    try {
      await refreshExternalScan(c.get("deps"), actorOf(c), instanceId);
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      if (isHtmx(c)) return c.text(sentence(err.message), err.status);
      const row = await getCertificateReport(c.get("deps").db, instanceId, c.req.param("id"));
      if (!row) return notFoundPage(c, sentence(err.message));
      return c.html(await ExternalPage({ c, row, flash: { kind: "error", text: sentence(err.message) } }), err.status);
    }
    return goTo(c, `${BASE}/external/${encodeURIComponent(instanceId)}/${encodeURIComponent(c.req.param("id"))}?done=refresh`);
  })
  .get(`${BASE}/:id`, async (c) => {
    const t = await editTarget(c);
    varyOnHtmx(c);
    const live = wantsPartial(c, LIVE_ID);
    if (!t) {
      if (!live) return notFoundPage(c, "No managed certificate with this id.");
      c.header("HX-Redirect", `${BASE}?done=deleted`);
      return c.body(null, 204);
    }
    if (live) return c.html(await DetailLive({ c, d: t.d }));
    return c.html(await DetailPage({ c, d: t.d, flash: doneFlash(c) }));
  })
  .get(`${BASE}/:id/edit`, requireAdmin, async (c) => {
    const t = await editTarget(c);
    if (!t) return notFoundPage(c, "No managed certificate with this id.");
    return formPage(c, emptyForm(valuesOfDefinition(t.d as Parameters<typeof valuesOfDefinition>[0])), { title: `Edit “${t.d.name}”`, action: `${BASE}/${t.d.id}/edit`, editing: t.editing });
  })
  .post(`${BASE}/:id/edit`, async (c) => {
    const t = await editTarget(c);
    if (!t) return notFoundPage(c, "No managed certificate with this id.");
    return postForm(c, { title: `Edit “${t.d.name}”`, action: `${BASE}/${t.d.id}/edit`, editing: t.editing });
  })
  .post(`${BASE}/:id/renew`, (c) => certificateAction(c, "renew"))
  .post(`${BASE}/:id/test`, (c) => certificateAction(c, "test"))
  .post(`${BASE}/:id/deploy`, (c) => certificateAction(c, "deploy"))
  .post(`${BASE}/:id/tasks/:index/test`, (c) => certificateAction(c, "test-task"))
  .post(`${BASE}/:id/delete`, (c) => certificateAction(c, "delete"));
