// The external ACME client scan wired into the agent: the externalManagers setting from the hub
// reaches the scanner, certificates of a certbot tree appear in the hub beside managed ones,
// and "refresh now" from the hub rescans (a renewed certificate shows its new serial).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import path from "node:path";
import { Agent } from "../../../src/agent/agent";
import { tempDir } from "../../helpers";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";

let hub: TestHub;
let admin: Session;
let agent: Agent;
let instanceId: string;

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** A certbot config dir (renewal conf + live symlinks into archive) holding one real certificate. */
function certbotTree(root: string, name: string) {
  const archive = path.join(root, "archive", name);
  const live = path.join(root, "live", name);
  mkdirSync(archive, { recursive: true });
  mkdirSync(live, { recursive: true });
  mkdirSync(path.join(root, "renewal"), { recursive: true });
  writeFileSync(
    path.join(root, "renewal", `${name}.conf`),
    [
      "version = 2.1.0",
      `archive_dir = ${archive}`,
      `cert = ${live}/cert.pem`,
      `privkey = ${live}/privkey.pem`,
      `chain = ${live}/chain.pem`,
      `fullchain = ${live}/fullchain.pem`,
      "",
      "[renewalparams]",
      "authenticator = standalone",
      "server = https://acme-v02.api.letsencrypt.org/directory",
      "key_type = ecdsa",
      "",
    ].join("\n"),
  );
  return { archive, live };
}

/** Issues version n with openssl and points live/ at it, as certbot does on renewal. */
function issueVersion(tree: { archive: string; live: string }, name: string, n: number): string {
  const cert = path.join(tree.archive, `cert${n}.pem`);
  const key = path.join(tree.archive, `privkey${n}.pem`);
  const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name},DNS:www.${name}`, "-days", "30", "-keyout", key, "-out", cert], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl: ${r.stderr.toString()}`);
  writeFileSync(path.join(tree.archive, `chain${n}.pem`), readFileSync(cert));
  writeFileSync(path.join(tree.archive, `fullchain${n}.pem`), readFileSync(cert));
  for (const f of ["cert", "privkey", "chain", "fullchain"]) {
    rmSync(path.join(tree.live, `${f}.pem`), { force: true });
    symlinkSync(`../../archive/${name}/${f}${n}.pem`, path.join(tree.live, `${f}.pem`));
  }
  return new X509Certificate(readFileSync(cert)).serialNumber.toLowerCase().replace(/^0+/, "");
}

beforeAll(async () => {
  hub = await startTestHub();
  admin = await signIn(hub.url);
  const key = await (await admin.json("/api/v1/tokens", "POST", { title: "external scan" })).json();
  const home = tempDir("certhub-home-");
  agent = await Agent.create({ dataDir: tempDir("certhub-agent-"), listen: null, allowScripts: false }, () => {}, {
    scanEnv: { home, isRoot: false, platform: "linux", env: {} },
  });
  await agent.start();
  ({ instanceId } = await agent.join({ url: hub.url, clientId: key.clientId, secret: key.secret, fingerprint: null }));
});

afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
});

describe("external certificate managers on a joined agent", () => {
  const name = "ext.example.test";
  const root = tempDir("certhub-certbot-");
  const tree = certbotTree(root, name);
  let serial1: string;

  test("the hub's externalManagers setting points the scan at a certbot tree; its certificate reaches the hub", async () => {
    serial1 = issueVersion(tree, name, 1);
    const put = await admin.json("/api/v1/settings/externalManagers", "PUT", { scope: "instance", scopeId: instanceId, value: { certbot: { configPath: root }, "acme.sh": { enabled: false } } });
    expect(put.status).toBeLessThan(300);
    const cert = await until("certbot certificate in the hub", async () => {
      const list = await (await admin.fetch(`/api/v1/certificates?instanceId=${instanceId}`)).json();
      const rows = (Array.isArray(list) ? list : list.items ?? list.certificates ?? []) as any[];
      return rows.find((c) => c.source === "certbot");
    });
    expect(cert.domains.sort()).toEqual([name, `www.${name}`].sort());
    expect(cert.serial.replace(/^0+/, "")).toBe(serial1);
    const inst = await (await admin.fetch(`/api/v1/instances/${instanceId}`)).json();
    const certbot = inst.externalManagers.find((m: { name: string }) => m.name === "certbot");
    expect(certbot).toMatchObject({ status: "ok", certificateCount: 1 });
    expect(certbot.configPath).toContain(root);
    expect(inst.externalManagers.find((m: { name: string }) => m.name === "acme.sh").status).toBe("disabled");
    expect((await agent.status()).certificateCount).toBe(1);
  }, 20_000);

  test("refresh now from the hub rescans: a certbot renewal shows its new serial", async () => {
    const serial2 = issueVersion(tree, name, 2);
    expect(serial2).not.toBe(serial1);
    const r = await admin.fetch(`/api/v1/instances/${instanceId}/external-refresh`, { method: "POST" });
    expect(r.status).toBe(202);
    await until("new serial in the hub", async () => {
      const list = await (await admin.fetch(`/api/v1/certificates?instanceId=${instanceId}`)).json();
      const rows = (Array.isArray(list) ? list : list.items ?? list.certificates ?? []) as any[];
      return rows.find((c) => c.source === "certbot" && c.serial.replace(/^0+/, "") === serial2);
    });
  }, 20_000);
});
