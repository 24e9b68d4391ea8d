// The stored-credential key: created once as <data-dir>/secret.key (32 bytes, 0600) and reused,
// or given as CERTHUB_SECRET_KEY (base64 or hex); a bad value stops the hub's start.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { resolveHubConfig } from "../../src/hub/config";
import { loadOrCreateEncryptionKey } from "../../src/hub/encryption-key";
import { createHub } from "../../src/hub/server";
import { tempDir } from "../helpers";

describe("encryption key", () => {
  test("first start creates secret.key with 32 random bytes, mode 0600; later starts reuse it", () => {
    const dir = tempDir("certhub-key-");
    const first = loadOrCreateEncryptionKey(dir);
    expect(first).toMatchObject({ source: "file", created: true });
    const file = path.join(dir, "secret.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).length).toBe(32);
    const again = loadOrCreateEncryptionKey(dir);
    expect(again.created).toBe(false);
    expect(again.key.equals(first.key)).toBe(true);
    expect(loadOrCreateEncryptionKey(tempDir("certhub-key-")).key.equals(first.key)).toBe(false);
  });

  test("CERTHUB_SECRET_KEY as base64 or hex wins over the file; wrong lengths are refused clearly", () => {
    const dir = tempDir("certhub-key-");
    const raw = randomBytes(32);
    expect(loadOrCreateEncryptionKey(dir, raw.toString("base64")).key.equals(raw)).toBe(true);
    expect(loadOrCreateEncryptionKey(dir, raw.toString("hex")).key.equals(raw)).toBe(true);
    expect(() => loadOrCreateEncryptionKey(dir, randomBytes(16).toString("base64"))).toThrow("CERTHUB_SECRET_KEY must be 32 bytes");
    expect(() => loadOrCreateEncryptionKey(dir, "not a key!")).toThrow("CERTHUB_SECRET_KEY must be 32 bytes");
    writeFileSync(path.join(dir, "secret.key"), "short");
    expect(() => loadOrCreateEncryptionKey(dir)).toThrow("must hold exactly 32 bytes");
  });

  test("the hub loads the key at start and refuses to start with a malformed CERTHUB_SECRET_KEY", async () => {
    const dir = tempDir("certhub-key-hub-");
    await expect(createHub(resolveHubConfig({ "data-dir": dir, http: true }, { CERTHUB_SECRET_KEY: "abc" }), { listen: false })).rejects.toThrow("CERTHUB_SECRET_KEY");
    const hub = await createHub(resolveHubConfig({ "data-dir": dir, http: true }, {}), { listen: false });
    try {
      expect(Buffer.from(hub.deps.secretKey).equals(readFileSync(path.join(dir, "secret.key")))).toBe(true);
    } finally {
      await hub.stop();
    }
  });
});
