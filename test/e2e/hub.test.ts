// The compiled hub end to end: first-start banner, admin CLI while the hub runs,
// sign-in over HTTP, restart without new secrets, HTTPS by default with a pinnable fingerprint.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { binPath, freePort, runCli, startHub, tempDir, type Hub } from "../helpers";
import { signIn, type Session } from "../helpers/session";

let dir = "";
let bin = "";
let dataDir = "";

beforeAll(() => {
  dir = tempDir("certhub-e2e-hub-");
  bin = join(dir, "certhub");
  copyFileSync(binPath(), bin);
  chmodSync(bin, 0o755);
  dataDir = join(dir, "data");
});

describe("hub from the binary", () => {
  let hub: Hub;
  let admin: Session;
  let password = "";

  beforeAll(async () => {
    hub = await startHub({ bin, cwd: dir, dataDir, adminPassword: null });
    console.log(`hub binary: ${hub.readyMs} ms from launch to first 200`);
  });
  afterAll(() => hub?.stop());

  test("first start prints the admin password, the joining key and ready-to-paste join commands once", async () => {
    const out = hub.stdout();
    password = /password "([a-z0-9]+)"/.exec(out)?.[1] ?? "";
    expect(password.length).toBeGreaterThanOrEqual(26); // 128 bits of base32
    const clientId = /Client ID:\s+(chub_id_\w+)/.exec(out)?.[1];
    const secret = /Secret:\s+(chub_sk_\w+)/.exec(out)?.[1];
    expect(clientId).toBeDefined();
    expect(secret).toBeDefined();
    expect(out).toContain(`certhub hub join ${hub.url} ${clientId} ${secret}`);
    expect(out).toContain(`curl -X POST http://127.0.0.2:9696/api/system/hub/join`);
    expect(out).toContain(`"clientId":"${clientId}","secret":"${secret}","url":"${hub.url}"`);
    admin = await signIn(hub.url, "admin", password);
  });

  test("a key created with the CLI while the hub runs shows on the API Access page", async () => {
    const r = await runCli(["keys", "create", "--title", "Org A joining key", "--group", "org-a", "--max-uses", "5", "--expires", "30d", "--json", "--data-dir", dataDir], { bin, cwd: dir });
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout);
    expect(created.clientId).toStartWith("chub_id_");
    expect(created.secret).toStartWith("chub_sk_");

    const page = await (await admin.fetch("/settings/api-access")).text();
    expect(page).toContain(created.clientId);
    expect(page).toContain("Org A joining key");
    expect(page).not.toContain(created.secret);

    const list = await runCli(["keys", "list", "--json", "--data-dir", dataDir], { bin, cwd: dir });
    const keys = JSON.parse(list.stdout);
    expect(keys.find((k: { clientId: string }) => k.clientId === created.clientId)).toMatchObject({ group: "org-a", maxUses: 5, status: "active" });

    const revoked = await runCli(["keys", "revoke", created.clientId, "--data-dir", dataDir], { bin, cwd: dir });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain("every instance joined with it");
    const view = await (await admin.fetch(`/api/v1/tokens/${created.clientId}`)).json();
    expect(view.status).toBe("revoked");
  });

  test("CLI usage errors are clear and change nothing", async () => {
    const r = await runCli(["keys", "create", "--data-dir", dataDir], { bin, cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--title is required");
    const bad = await runCli(["keys", "create", "--title", "x", "--expires", "soon", "--data-dir", dataDir], { bin, cwd: dir });
    expect(bad.stderr).toContain("invalid duration");
    const unknown = await runCli(["keys", "revoke", "chub_id_nope", "--data-dir", dataDir], { bin, cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no API token");
  });

  test("users reset-password signs the user out and prints a new password once", async () => {
    const r = await runCli(["users", "reset-password", "admin", "--data-dir", dataDir], { bin, cwd: dir });
    expect(r.code).toBe(0);
    const fresh = /New password: (\S+)/.exec(r.stdout)?.[1];
    expect(fresh).toBeDefined();
    expect((await admin.fetch("/api/v1/me")).status).toBe(401);
    admin = await signIn(hub.url, "admin", fresh!);
    password = fresh!;
  });

  test("a restart creates nothing and prints no secret", async () => {
    await hub.stop();
    hub = await startHub({ bin, cwd: dir, dataDir, adminPassword: "ignored-on-second-start" });
    const out = hub.output();
    expect(out).not.toContain("chub_sk_");
    expect(out).not.toContain("password");
    await signIn(hub.url, "admin", password);
  });
});

test("HTTPS by default: self-signed certificate whose printed fingerprint matches what is served", async () => {
  const port = await freePort();
  const data = join(dir, "tls-data");
  const proc = Bun.spawn([bin, "--listen", `127.0.0.1:${port}`, "--data-dir", data], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  try {
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await fetch(`https://127.0.0.1:${port}/healthz`, { tls: { rejectUnauthorized: false } })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (!ok) await Bun.sleep(100);
    }
    expect(ok).toBe(true);
    // Without pinning or trust, a client refuses the self-signed certificate.
    await expect(fetch(`https://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    proc.kill("SIGTERM");
    const out = await new Response(proc.stdout).text();
    const printed = /fingerprint: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    const served = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
        resolve(`sha256:${s.getPeerCertificate().fingerprint256.replace(/:/g, "").toLowerCase()}`);
        s.end();
      });
      s.on("error", reject);
    }).catch(() => "");
    // The server may already be gone after SIGTERM; compare with the file on disk then.
    const onDisk = new (await import("node:crypto")).X509Certificate(await Bun.file(join(data, "hub-tls.crt")).text());
    expect(printed).toBe(`sha256:${onDisk.fingerprint256.replace(/:/g, "").toLowerCase()}`);
    if (served) expect(served).toBe(printed!);
  } finally {
    proc.kill("SIGKILL");
  }
});
