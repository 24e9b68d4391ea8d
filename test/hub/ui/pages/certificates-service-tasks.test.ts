// Service deployment tasks in the Certificates pages, against an in-process hub over HTTP: the
// certificate page says what each task will actually run (systemd, launchd, or the server's own
// reload with manager "direct", with the preset's config test and the config file); the task
// editor offers every manager the wire schema knows and the config file; and a task created
// through the API comes back unchanged after Edit is submitted as a browser would submit it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ServiceTaskSchema } from "../../../../src/protocol/certificates";
import { addInstance, call, createCaAccount, startWorld, syncConfig, type World } from "../../core/fixtures";
import type { FakeAgent } from "../../agent-api.fixtures";
import { browserFields, page, post, text, type Fields } from "./helpers";

let w: World;
let agent: FakeAgent;
let caId: string;

beforeAll(async () => {
  w = await startWorld();
  agent = await addInstance(w, { hostname: "svc-01.example.test" });
  caId = (await createCaAccount(w.admin)).id;
});
afterAll(() => w.hub.stop());

async function createViaApi(name: string, deployments: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(w.admin, "POST", "/api/v1/managed-certificates", { instanceId: agent.instanceId, name, domains: ["www.example.com"], caAccountId: caId, challenge: { type: "http-01" }, deployments, ...extra });
  expect(r.status).toBe(201);
  return r.body.id;
}

/** The text of task row `i` on the certificate page. */
function taskRow(html: string, i: number): string {
  const m = new RegExp(`<tr data-task-index="${i}">([\\s\\S]*?)</tr>`).exec(html);
  expect(m, `task row ${i}`).not.toBeNull();
  return text(m![1]);
}

describe("service tasks", () => {
  test("the certificate page shows what each task will run: systemctl, launchctl, or the server's own reload with its config test and config file", async () => {
    const id = await createViaApi("what-runs", [
      { type: "service", manager: "systemd", name: "nginx.service", config: "/etc/nginx/alt.conf" },
      { type: "service", manager: "launchd", name: "homebrew.mxcl.nginx", action: "reload" },
      { type: "service", manager: "launchd", name: "com.example.app", action: "restart" },
      { type: "service", manager: "direct", name: "nginx", config: "/etc/nginx/alt.conf" },
      { type: "service", manager: "direct", name: "apache2", action: "restart" },
      { type: "service", manager: "direct", name: "haproxy" },
      { type: "service", manager: "direct", name: "postfix", config: "/etc/postfix-out" },
      { type: "service", manager: "direct", name: "myapp" },
      { type: "service", manager: "systemd", name: "myapp.service", action: "restart", config: "/etc/myapp.conf" },
    ]);
    const html = await page(w.admin, `/certificates/${id}`);
    expect(taskRow(html, 0)).toContain(
      "nginx config test: nginx -c /etc/nginx/alt.conf -t → systemctl reload-or-restart nginx.service → systemctl is-active nginx.service · config file /etc/nginx/alt.conf (for the config test",
    );
    expect(taskRow(html, 1)).toContain("nginx config test: nginx -t → launchctl kill SIGHUP system/homebrew.mxcl.nginx");
    expect(taskRow(html, 2)).toContain("launchctl kickstart -k system/com.example.app");
    expect(taskRow(html, 2)).not.toContain("config test");

    // manager "direct": the server's own reload, never systemctl or launchctl.
    for (const i of [3, 4, 5, 6, 7]) expect(taskRow(html, i)).not.toMatch(/systemctl|launchctl/);
    expect(taskRow(html, 3)).toContain("nginx config test: nginx -c /etc/nginx/alt.conf -t → nginx -c /etc/nginx/alt.conf -s reload · config file /etc/nginx/alt.conf");
    expect(taskRow(html, 4)).toContain("apache config test: apachectl configtest (or apache2ctl configtest, httpd -t: the first found on PATH) → apachectl -k restart (or apache2ctl -k restart, httpd -k restart");
    expect(taskRow(html, 5)).toContain("haproxy config test: haproxy -c -f /etc/haproxy/haproxy.cfg → SIGUSR2 to the haproxy master");
    expect(taskRow(html, 6)).toContain("postfix config test: postconf -c /etc/postfix-out -h mail_version, then postfix -c /etc/postfix-out check → postfix -c /etc/postfix-out reload · config file /etc/postfix-out");
    expect(taskRow(html, 7)).toContain('manager "direct" reloads only nginx, apache, haproxy and postfix; "myapp" is none of them, so this task will fail');
    expect(taskRow(html, 8)).toContain("systemctl restart myapp.service → systemctl is-active myapp.service · config file /etc/myapp.conf (not used: only the nginx, apache, haproxy and postfix presets read it)");
  });

  test("the editor offers every manager of the wire schema with when it applies, and the config file for presets", async () => {
    const managers = ServiceTaskSchema.shape.manager.options;
    expect(managers).toContain("direct");
    const base: Fields = { instanceId: agent.instanceId, name: "edited", domains: "www.example.com", caAccountId: caId, "challenge.kind": "http-standalone", "challenge.port": "80" };
    let res = await post(w.admin, "/certificates/new", { ...base, op: "add", newTaskType: "service" });
    expect(res.status).toBe(200);
    let html = await res.text();
    for (const m of managers) expect(html).toMatch(new RegExp(`<select name="deployments.0.manager"[\\s\\S]*?<option value="${m}"`));
    const t = text(html);
    expect(t).toContain("systemd: Linux hosts running systemd");
    expect(t).toContain("launchd: macOS");
    expect(t).toContain("direct: no service manager (a container, a server started by hand)");
    expect(html).toContain('name="deployments.0.config"'); // not named yet: offered

    const svc = (over: Fields): Fields => ({ ...base, "deployments.0.type": "service", "deployments.0.trigger": "success", "deployments.0.action": "reload", ...over });
    res = await post(w.admin, "/certificates/new", { ...svc({ "deployments.0.manager": "direct", "deployments.0.name": "apache2", "deployments.0.config": "" }), op: "refresh" });
    html = await res.text();
    expect(html).toMatch(/<option value="direct" selected="">/);
    expect(text(html)).toContain("apache config file");
    expect(html).toContain('name="deployments.0.config"');
    // A name that is no preset: no config file to give, and "direct" says it cannot work.
    res = await post(w.admin, "/certificates/new", { ...svc({ "deployments.0.manager": "direct", "deployments.0.name": "myapp.service", "deployments.0.config": "" }), op: "refresh" });
    html = await res.text();
    expect(html).not.toContain('name="deployments.0.config"');
    expect(text(html)).toContain('"myapp.service" is none of them, so this task will fail on the agent');
    // A config that is not an absolute path is refused beside its field.
    res = await post(w.admin, "/certificates/new", { ...svc({ "deployments.0.manager": "direct", "deployments.0.name": "nginx", "deployments.0.config": "nginx.conf" }), op: "save" });
    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/name="deployments.0.config"[^>]*aria-invalid="true"[\s\S]*?Enter an absolute path/);

    // Saved from the page, the direct task with its config reaches the agent as typed.
    res = await post(w.admin, "/certificates/new", { ...svc({ "deployments.0.manager": "direct", "deployments.0.name": "nginx", "deployments.0.config": "/srv/nginx/nginx.conf" }), op: "save" });
    expect(res.status).toBe(303);
    const id = res.headers.get("location")!.split("/")[2].split("?")[0];
    const spec = (await syncConfig(agent))!.certificates.find((c) => c.id === id)!;
    expect(spec.deployments).toEqual([{ type: "service", manager: "direct", name: "nginx", action: "reload", config: "/srv/nginx/nginx.conf", trigger: "success" }]);
  });

  test("Edit submitted unchanged keeps direct-manager preset tasks with their config identical", async () => {
    const deployments = [
      { type: "pem", directory: "/etc/ssl/site", mode: "0640", trigger: "success" },
      { type: "service", manager: "direct", name: "nginx", action: "reload", config: "/etc/nginx/alt.conf", trigger: "always", continueOnError: true, retries: 2, retryDelaySeconds: 5 },
      { type: "service", manager: "direct", name: "postfix", action: "restart", config: "/etc/postfix-out", trigger: "success" },
      { type: "service", manager: "launchd", name: "homebrew.mxcl.haproxy", action: "reload", config: "/opt/homebrew/etc/haproxy.cfg", trigger: "manual" },
    ];
    const id = await createViaApi("round-trip", deployments, { verify: { port: 443 } });
    const before = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    expect(before.deployments).toMatchObject(deployments);

    const form = await page(w.admin, `/certificates/${id}/edit`);
    const res = await post(w.admin, `/certificates/${id}/edit`, { ...(await browserFields(form)), op: "save" });
    expect(res.status).toBe(303);

    const after = (await call(w.admin, "GET", `/api/v1/managed-certificates/${id}`)).body;
    expect(after.revision).toBe(before.revision + 1);
    expect(after.deployments).toEqual(before.deployments);
    expect(after.verify).toEqual(before.verify);
    expect(after.domains).toEqual(before.domains);
    // What the form showed: the stored manager chosen, the config in its field.
    expect(form).toMatch(/<select name="deployments.1.manager"[^>]*>(?:(?!<\/select>)[\s\S])*<option value="direct" selected="">/);
    expect(form).toMatch(/name="deployments.1.config" type="text" value="\/etc\/nginx\/alt.conf"/);
    expect(form).toMatch(/name="deployments.3.config" type="text" value="\/opt\/homebrew\/etc\/haproxy.cfg"/);
  });
});
