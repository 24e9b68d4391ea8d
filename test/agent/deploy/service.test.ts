// Service tasks. This machine has no systemd (PID 1 is not systemd), so:
//  - the nginx preset runs against a REAL nginx (Debian nginx-light) on a loopback port: the PEM
//    task writes the files, the preset runs nginx's own config test (`nginx -t`), and a stand-in
//    `systemctl` on PATH turns `reload-or-restart nginx` into `nginx -s reload` and answers
//    `is-active`; the post-deploy check then reads what nginx really serves. A `nginx` wrapper on
//    PATH only adds `-c <test config>` (the real binary does the test and reports its own error);
//  - the real /usr/bin/systemctl is run once to show its error reaches the task result;
//  - launchd: argument construction only (no macOS here).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkServed, runDeployments } from "../../../src/agent/deploy";
import { runServiceTask } from "../../../src/agent/deploy/service";
import { presetFor, serviceCommands } from "../../../src/protocol/service-presets";
import type { DeploymentTask } from "../../../src/protocol/certificates";
import { tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";
import { eventually, type RunningServer, startServer } from "./servers";

const NGINX = "/usr/sbin/nginx";
const ca = makeCa();
const domain = "nginx.example.test";
const [certA, certB, certC] = ["a1", "b2", "c3"].map((s) => issue(ca, { serialHex: s, domains: [domain] }));

/** Runs `fn` with `dir` first on PATH (the runner resolves commands through process.env.PATH). */
async function withPath<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = `${dir}:${old}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = old;
  }
}

function shim(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

describe("service task: nginx preset with a real nginx", () => {
  let nginx: RunningServer | null = null;
  afterAll(async () => {
    await nginx?.stop();
  });

  test("nginx is installed (nginx-light)", () => {
    if (!existsSync(NGINX)) throw new Error("nginx NOT INSTALLED: the real-nginx service tests cannot run; apt-get install -y nginx-light");
  });

  test.skipIf(!existsSync(NGINX))(
    "deploy B + reload through the preset → served; break the config → nginx's own error, not reloaded, B still served",
    async () => {
      const dir = tempDir("certhub-nginx-");
      const certs = join(dir, "certs");
      const bin = join(dir, "bin");
      for (const d of [certs, bin]) mkdirSync(d);
      const tasks: DeploymentTask[] = [
        { type: "pem", directory: certs, trigger: "success" },
        { type: "service", manager: "systemd", name: "nginx", action: "reload", trigger: "success" },
      ];

      // A: files, then nginx starts (as a child of this test) and serves A.
      const [first] = await runDeployments([tasks[0]], certA, "success", context());
      expect(first.lastResult.outcome).toBe("succeeded");
      const server = await startServer("nginx", certs, domain);
      nginx = server;
      const { port } = server;
      const served = (serial: string) => checkServed({ host: "127.0.0.1", port, servername: domain, expectedSerial: serial, timeoutMs: 2000 });
      expect(await eventually(async () => (await served(certA.serial)) === "served", 8000)).toBe(true);

      // The preset runs `nginx -t` and `systemctl reload-or-restart nginx`: stand-ins on PATH point
      // them at this nginx (the real binary with its test config).
      const nginxArgs = `-c ${server.config} -e ${server.dir}/error.log`;
      shim(bin, "nginx", `exec ${NGINX} ${nginxArgs} "$@"`);
      shim(
        bin,
        "systemctl",
        `echo "$*" >> ${dir}/systemctl.log
case "$1 $2" in
  "reload-or-restart nginx") exec ${NGINX} ${nginxArgs} -s reload ;;
  "is-active nginx") echo active ;;
  *) echo "stand-in systemctl: unsupported: $*" >&2; exit 1 ;;
esac`,
      );

      // B: deploy + reload through the preset.
      const resB = await withPath(bin, () => runDeployments(tasks, certB, "success", context()));
      expect(resB.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "succeeded"]);
      expect(resB[1].lastResult.message).toBe("reloaded nginx (nginx config test passed)");
      expect(resB[1].lastResult.output).toContain("test is successful");
      expect(readFileSync(join(dir, "systemctl.log"), "utf8")).toBe("reload-or-restart nginx\nis-active nginx\n");
      expect(await eventually(async () => (await served(certB.serial)) === "served", 8000)).toBe(true);

      // Broken config: the test fails with nginx's own words, no reload happens, B keeps being served.
      server.breakConfig();
      const resC = await withPath(bin, () => runDeployments(tasks, certC, "success", context()));
      expect(resC.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "failed"]);
      const msg = resC[1].lastResult.message;
      expect(msg).toContain("nginx config test failed, not reloading (nginx -t)");
      expect(msg).toContain(`[emerg] unknown directive "ssl_bogus_directive" in ${server.dir}/extra.conf:1`);
      expect(resC[1].lastResult.output).toContain("test failed");
      expect(readFileSync(join(dir, "systemctl.log"), "utf8")).toBe("reload-or-restart nginx\nis-active nginx\n"); // no second reload
      await Bun.sleep(300);
      expect(await served(certC.serial)).toBe("stale");
      expect(await served(certB.serial)).toBe("served");
    },
    30_000,
  );
});

describe("service task: systemd and launchd commands", () => {
  const cert = certA;

  test("the real systemctl on this systemd-less host: its own error is the task's message", async () => {
    if (!existsSync("/usr/bin/systemctl")) return console.warn("NOT RUN: /usr/bin/systemctl absent");
    const [r] = await runDeployments([{ type: "service", manager: "systemd", name: "certhub-test.service", action: "reload", trigger: "success" }], cert, "success", context());
    expect(r.lastResult.outcome).toBe("failed");
    expect(r.lastResult.message).toContain("systemctl reload-or-restart certhub-test.service exited 1");
    expect(r.lastResult.message).toContain("System has not been booted with systemd");
  });

  test("a unit that is not active after the reload fails with what is-active said", async () => {
    const bin = tempDir("certhub-svc-");
    shim(bin, "systemctl", `case "$1" in is-active) echo failed; exit 3;; *) exit 0;; esac`);
    const r = await runServiceTask({ type: "service", manager: "systemd", name: "myapp", action: "restart", trigger: "success" }, { cert, outcome: "success", ctx: context(), paths: {}, signal: new AbortController().signal }, { PATH: bin }).catch((e) => e);
    expect(r).toBeInstanceOf(Error);
    expect(r.message).toBe("myapp is not active after the restart (failed)");
  });

  test("command lines: systemd reload/restart + is-active; launchd kickstart -k / kill SIGHUP", () => {
    expect(serviceCommands({ manager: "systemd", name: "nginx", action: "reload" })).toEqual([["systemctl", "reload-or-restart", "nginx"], ["systemctl", "is-active", "nginx"]]);
    expect(serviceCommands({ manager: "systemd", name: "app@1.service", action: "restart" })).toEqual([["systemctl", "restart", "app@1.service"], ["systemctl", "is-active", "app@1.service"]]);
    expect(serviceCommands({ manager: "launchd", name: "com.example.web", action: "restart" })).toEqual([["launchctl", "kickstart", "-k", "system/com.example.web"]]);
    expect(serviceCommands({ manager: "launchd", name: "com.example.web", action: "reload" })).toEqual([["launchctl", "kill", "SIGHUP", "system/com.example.web"]]);
    expect(serviceCommands({ manager: "launchd", name: "gui/501/com.example.agent", action: "restart" })).toEqual([["launchctl", "kickstart", "-k", "gui/501/com.example.agent"]]);
  });

  test("presets by unit name and their config tests (default config, or the task's config)", () => {
    expect(presetFor("nginx")?.steps).toEqual([[["nginx", "-t"]]]);
    expect(presetFor("nginx", "/srv/nginx.conf")?.steps).toEqual([[["nginx", "-c", "/srv/nginx.conf", "-t"]]]);
    expect(presetFor("nginx.service")?.preset).toBe("nginx");
    expect(presetFor("homebrew.mxcl.nginx")?.preset).toBe("nginx");
    expect(presetFor("apache2")?.steps[0][0]).toEqual(["apachectl", "configtest"]);
    expect(presetFor("apache2", "/srv/httpd.conf")?.steps[0][0]).toEqual(["apachectl", "-f", "/srv/httpd.conf", "-t"]);
    expect(presetFor("httpd.service")?.preset).toBe("apache");
    expect(presetFor("haproxy")?.steps[0][0]).toEqual(["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"]);
    expect(presetFor("haproxy", "/srv/h.cfg")?.steps).toEqual([[["haproxy", "-c", "-f", "/srv/h.cfg"]]]);
    expect(presetFor("postfix@-.service")?.steps).toEqual([[["postconf", "-h", "mail_version"]], [["postfix", "check"]]]);
    expect(presetFor("postfix", "/srv/pf")?.steps).toEqual([[["postconf", "-c", "/srv/pf", "-h", "mail_version"]], [["postfix", "-c", "/srv/pf", "check"]]]);
    expect(presetFor("myapp")).toBeNull();
  });

  test("manager direct: only for the presets; a plain unit name is refused without running anything", async () => {
    const r = await runServiceTask({ type: "service", manager: "direct", name: "myapp", action: "reload", trigger: "success" }, { cert, outcome: "success", ctx: context(), paths: {}, signal: new AbortController().signal }).catch((e) => e);
    expect(r).toBeInstanceOf(Error);
    expect(r.message).toBe('manager "direct" reloads only the nginx, apache, haproxy and postfix presets; "myapp" is none of them (use systemd or launchd, or a script task)');
  });

  test("a preset whose config test cannot pass (its config file is missing) fails with the server's words and never reloads", async () => {
    if (!existsSync("/usr/sbin/haproxy")) throw new Error("haproxy NOT INSTALLED: apt-get install -y haproxy");
    const bin = tempDir("certhub-svc-");
    shim(bin, "systemctl", `echo "$*" >> ${bin}/log; echo active`);
    const r = await runServiceTask({ type: "service", manager: "systemd", name: "haproxy", action: "reload", trigger: "success", config: `${bin}/missing.cfg` }, { cert, outcome: "success", ctx: context(), paths: {}, signal: new AbortController().signal }, { PATH: bin }).catch((e) => e);
    expect(r).toBeInstanceOf(Error);
    expect(r.message).toContain(`haproxy config test failed, not reloading (haproxy -c -f ${bin}/missing.cfg)`);
    expect(r.message).toContain("missing.cfg"); // haproxy's own "Cannot open configuration file/directory" line
    expect(existsSync(join(bin, "log"))).toBe(false);
  });
});
