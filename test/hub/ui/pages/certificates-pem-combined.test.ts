// The PEM task's `combined` option (combined.pem: full chain + key in one file) through the hub,
// against an in-process hub over HTTP: the JSON API takes it on POST and PUT, refuses anything
// but a boolean, and hands it to the agent; the certificate form has a checkbox for it that a
// save turns into `combined: true` (unchecked: no field), Edit shows it checked and keeps it
// when submitted unchanged, and the certificate page names combined.pem among the files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../../core/fixtures";
import type { FakeAgent } from "../../agent-api.fixtures";
import { browserFields, page, post, text, type Fields } from "./helpers";

let w: World;
let agent: FakeAgent;
let caId: string;

beforeAll(async () => {
  w = await startWorld();
  agent = await addInstance(w, { hostname: "pem-01.example.test" });
  caId = (await createCaAccount(w.admin)).id;
});
afterAll(() => w.hub.stop());

const base = () => ({ instanceId: agent.instanceId, domains: ["www.example.com"], caAccountId: caId, challenge: { type: "http-01" } });
const specOf = async (id: string) => (await syncConfig(agent))!.certificates.find((c) => c.id === id)!;

describe("pem task combined.pem option", () => {
  test("JSON API: POST and PUT carry combined, the agent receives it; anything but a boolean is 400 naming the field", async () => {
    const created = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...base(), name: "api-combined", deployments: [{ type: "pem", directory: "/etc/haproxy/certs/site", mode: "0640", combined: true }] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body.deployments).toEqual([expect.objectContaining({ type: "pem", directory: "/etc/haproxy/certs/site", mode: "0640", combined: true })]);
    expect((await specOf(id)).deployments).toEqual([{ type: "pem", directory: "/etc/haproxy/certs/site", mode: "0640", combined: true, trigger: "success" }]);

    const off = await call(w.admin, "PUT", `/api/v1/managed-certificates/${id}`, { deployments: [{ type: "pem", directory: "/etc/haproxy/certs/site" }] });
    expect(off.status).toBe(200);
    expect((await specOf(id)).deployments).toEqual([{ type: "pem", directory: "/etc/haproxy/certs/site", trigger: "success" }]);
    const on = await call(w.admin, "PUT", `/api/v1/managed-certificates/${id}`, { deployments: [{ type: "pem", directory: "/etc/haproxy/certs/site", combined: true }] });
    expect(on.status).toBe(200);
    expect((await specOf(id)).deployments).toEqual([{ type: "pem", directory: "/etc/haproxy/certs/site", combined: true, trigger: "success" }]);

    for (const bad of ["yes", "combined.pem", 1]) {
      const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { ...base(), name: "bad", deployments: [{ type: "pem", directory: "/etc/ssl/x", combined: bad }] });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.error).toContain("combined");
      const p = await call(w.admin, "PUT", `/api/v1/managed-certificates/${id}`, { deployments: [{ type: "pem", directory: "/etc/ssl/x", combined: bad }] });
      expect(p.status, JSON.stringify(bad)).toBe(400);
    }
    // Nothing lost: no new config for the agent, the stored task unchanged.
    expect(await syncConfig(agent)).toBeNull();
    expect((await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body.deployments).toEqual([expect.objectContaining({ type: "pem", directory: "/etc/haproxy/certs/site", combined: true })]);
  });

  test("form: the checkbox saves combined: true, unchecked saves none; Edit shows it checked and keeps it; the page names combined.pem", async () => {
    const form: Fields = { instanceId: agent.instanceId, name: "page-combined", domains: "www.example.com", caAccountId: caId, "challenge.kind": "http-standalone", "challenge.port": "80" };
    // A new PEM task in the editor offers the checkbox, unchecked.
    let res = await post(w.admin, "/certificates/new", { ...form, op: "add", newTaskType: "pem" });
    expect(res.status).toBe(200);
    let html = await res.text();
    expect(html).toMatch(/<input type="checkbox" name="deployments.0.combined" value="on"\/?>/);
    expect(text(html)).toContain("Also write combined.pem: the full chain followed by the private key in one file");

    const pem = (over: Fields): Fields => ({ ...form, "deployments.0.type": "pem", "deployments.0.trigger": "success", "deployments.0.directory": "/etc/haproxy/certs/site", ...over });
    res = await post(w.admin, "/certificates/new", { ...pem({ "deployments.0.combined": "on" }), op: "save" });
    expect(res.status).toBe(303);
    const id = res.headers.get("location")!.split("/")[2].split("?")[0];
    expect((await specOf(id)).deployments).toEqual([{ type: "pem", directory: "/etc/haproxy/certs/site", combined: true, trigger: "success" }]);
    expect(text(await page(w.admin, `/certificates/${id}`))).toContain("/etc/haproxy/certs/site/{cert,chain,fullchain,privkey,combined}.pem");

    // Edit: checked as stored; submitted unchanged, the definition stays the same.
    const before = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    html = await page(w.admin, `/certificates/${id}/edit`);
    expect(html).toMatch(/<input type="checkbox" name="deployments.0.combined" value="on" checked=""\/?>/);
    const fields = await browserFields(html);
    expect(fields["deployments.0.combined"]).toBe("on");
    res = await post(w.admin, `/certificates/${id}/edit`, { ...fields, op: "save" });
    expect(res.status).toBe(303);
    const after = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    expect(after.revision).toBe(before.revision + 1);
    expect(after.deployments).toEqual(before.deployments);

    // Unchecked (a browser sends no field): saved without combined; the page lists four files.
    const { ["deployments.0.combined"]: _, ...unchecked } = fields;
    res = await post(w.admin, `/certificates/${id}/edit`, { ...unchecked, op: "save" });
    expect(res.status).toBe(303);
    expect((await specOf(id)).deployments).toEqual([{ type: "pem", directory: "/etc/haproxy/certs/site", trigger: "success" }]);
    expect(text(await page(w.admin, `/certificates/${id}`))).toContain("/etc/haproxy/certs/site/{cert,chain,fullchain,privkey}.pem");
    expect(await page(w.admin, `/certificates/${id}/edit`)).toMatch(/<input type="checkbox" name="deployments.0.combined" value="on"\/?>/);
  });
});
