// The nginx / apache / haproxy / postfix presets against the REAL servers from Debian, each on a
// loopback high port with a throw-away config (servers.ts), with no systemd and no stand-in for
// anything: the service task uses manager "direct" and the task's `config`, so the preset runs
// the server's own config test and then its own reload (nginx -s reload, apachectl -k graceful,
// SIGUSR2 to the haproxy master, postfix reload). haproxy's `crt` is the PEM task's combined.pem
// (`combined: true`: full chain + key in one file, nothing made by hand). For each server:
//   A deployed, server started → A served;
//   B deployed + the preset's reload → B served (openssl s_client; -starttls smtp for postfix);
//   config broken, C deployed → the task fails with the server's own error, no reload, B still served.
// A missing server package fails the test loudly (requireServer), never a silent pass.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runDeployments } from "../../../src/agent/deploy";
import type { DeploymentTask } from "../../../src/protocol/certificates";
import { tempDir } from "../../helpers";
import { context, issue, makeCa } from "./fixtures";
import { eventually, requireServer, servedSerial, startServer, type RunningServer, type ServerKind } from "./servers";

const ca = makeCa();
const running: RunningServer[] = [];
afterAll(async () => {
  for (const s of running) await s.stop().catch(() => {});
});

interface Case {
  kind: ServerKind;
  unit: string;
  starttls?: "smtp";
  reloadedWith: (s: RunningServer) => RegExp;
  /** The server's own words for the broken config. */
  error: (s: RunningServer) => RegExp;
}

const cases: Case[] = [
  { kind: "nginx", unit: "nginx", reloadedWith: (s) => new RegExp(`^reloaded nginx with nginx -c ${s.config} -s reload \\(nginx config test passed\\)$`), error: () => /\[emerg\] \d+#\d+: unknown directive "ssl_bogus_directive" in .*extra\.conf:1/ },
  { kind: "apache", unit: "apache2", reloadedWith: (s) => new RegExp(`^reloaded apache2 with apachectl -f ${s.config} -k graceful \\(apache config test passed\\)$`), error: () => /AH00526: Syntax error on line 1 of .*extra\.conf.*Invalid command 'SSLBogusDirective'/ },
  { kind: "haproxy", unit: "haproxy", reloadedWith: () => /^reloaded haproxy with SIGUSR2 to the master \(pid \d+\) \(haproxy config test passed\)$/, error: () => /\[ALERT\].*unknown keyword 'bogus_keyword' in 'frontend' section/ },
  { kind: "postfix", unit: "postfix", starttls: "smtp", reloadedWith: (s) => new RegExp(`^reloaded postfix with postfix -c ${s.config} reload \\(postfix config test passed\\)$`), error: () => /postconf: fatal: .*main\.cf, line \d+: missing '=' after attribute name: "smtpd_line_without_an_equals_sign"/ },
];

describe("service presets with the real servers (manager direct, throw-away configs on loopback)", () => {
  for (const c of cases) {
    test(`${c.kind}: reload through the preset → new certificate served; broken config → ${c.kind}'s own error, no reload, old certificate still served`, async () => {
      requireServer(c.kind);
      const domain = `${c.kind}.example.test`;
      const [certA, certB, certC] = ["a1", "b2", "c3"].map((s) => issue(ca, { serialHex: `${s}${c.kind.length}`, domains: [domain] }));
      const certs = join(tempDir(`certhub-preset-${c.kind}-`), "certs");
      mkdirSync(certs);
      // haproxy reads combined.pem (full chain + key in one file): no link or hook beside the task's files.
      const pem: DeploymentTask = { type: "pem", directory: certs, trigger: "success", ...(c.kind === "haproxy" ? { combined: true } : {}) };
      const [first] = await runDeployments([pem], certA, "success", context());
      expect(first.lastResult.outcome).toBe("succeeded");
      if (c.kind === "haproxy") expect(readdirSync(certs).filter((f) => !f.startsWith(".")).sort()).toEqual(["cert.pem", "chain.pem", "combined.pem", "fullchain.pem", "privkey.pem"]);

      const server = await startServer(c.kind, certs, domain);
      running.push(server);
      const served = () => servedSerial(server.port, domain, c.starttls);
      const t0 = performance.now();
      expect(await eventually(async () => (await served()) === certA.serial), `${c.kind} never served A:\n${server.output()}`).toBe(true);
      const startMs = Math.round(performance.now() - t0);

      const service: DeploymentTask = { type: "service", manager: "direct", name: c.unit, action: "reload", config: server.config, trigger: "success" };
      const t1 = performance.now();
      const resB = await runDeployments([pem, service], certB, "success", context());
      expect(resB.map((r) => r.lastResult.outcome), JSON.stringify(resB.map((r) => r.lastResult.message))).toEqual(["succeeded", "succeeded"]);
      expect(resB[1].lastResult.message).toMatch(c.reloadedWith(server));
      expect(await eventually(async () => (await served()) === certB.serial), `${c.kind} never served B after the reload:\n${server.output()}`).toBe(true);
      const reloadMs = Math.round(performance.now() - t1);

      server.breakConfig();
      const resC = await runDeployments([pem, service], certC, "success", context());
      expect(resC.map((r) => r.lastResult.outcome)).toEqual(["succeeded", "failed"]);
      const msg = resC[1].lastResult.message;
      expect(msg).toStartWith(`${c.kind} config test failed, not reloading (`);
      expect(msg).toMatch(c.error(server));
      // C is on disk now, but the running server was not reloaded: it keeps serving B.
      for (let i = 0; i < 5; i++) {
        expect(await served()).toBe(certB.serial);
        await Bun.sleep(100);
      }
      console.log(`${c.kind}: first serve ${startMs} ms, deploy + reload → new serial served ${reloadMs} ms`);
    }, 60_000);
  }
});
