// HTTPS with the admin's own certificate (--tls-cert/--tls-key), and clear errors for bad files.
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { resolveHubConfig } from "../../src/hub/config";
import { createHub } from "../../src/hub/server";
import { certificateFingerprint, createSelfSigned } from "../../src/hub/tls";
import { tempDir } from "../helpers";

function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(`sha256:${s.getPeerCertificate().fingerprint256.replace(/:/g, "").toLowerCase()}`);
      s.end();
    });
    s.on("error", reject);
  });
}

test("--tls-cert/--tls-key: the hub serves exactly that certificate and creates none of its own", async () => {
  const dir = tempDir();
  const { cert, key } = await createSelfSigned(["hub.example.test"], ["127.0.0.1"]);
  writeFileSync(path.join(dir, "my.crt"), cert);
  writeFileSync(path.join(dir, "my.key"), key);
  const config = resolveHubConfig({ "data-dir": path.join(dir, "data"), listen: "127.0.0.1:0", "tls-cert": path.join(dir, "my.crt"), "tls-key": path.join(dir, "my.key") });
  const hub = await createHub(config);
  try {
    expect(hub.url).toStartWith("https://");
    expect(hub.fingerprint).toBe(certificateFingerprint(cert));
    expect(await servedFingerprint(Number(new URL(hub.url).port))).toBe(certificateFingerprint(cert));
    expect(await Bun.file(path.join(dir, "data", "hub-tls.crt")).exists()).toBe(false);
  } finally {
    await hub.stop();
  }
});

test("unreadable or non-PEM certificate files give a clear error", async () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, "junk.pem"), "not a certificate");
  const base = { "data-dir": path.join(dir, "data"), listen: "127.0.0.1:0" };
  await expect(createHub(resolveHubConfig({ ...base, "tls-cert": "/nonexistent.crt", "tls-key": "/nonexistent.key" }))).rejects.toThrow("cannot read --tls-cert /nonexistent.crt: ENOENT");
  await expect(createHub(resolveHubConfig({ ...base, "tls-cert": path.join(dir, "junk.pem"), "tls-key": path.join(dir, "junk.pem") }))).rejects.toThrow("is not a PEM certificate");
  expect(() => resolveHubConfig({ ...base, "tls-cert": "a.crt" })).toThrow("--tls-cert and --tls-key must be given together");
});
