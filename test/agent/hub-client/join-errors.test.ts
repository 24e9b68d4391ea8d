// Join errors for the likely URL mistakes say what to do (issue 12 #5), against a real hub
// speaking HTTPS with its self-signed certificate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Agent } from "../../../src/agent/agent";
import { normalizeHubUrl } from "../../../src/agent/hub-client";
import { resolveHubConfig } from "../../../src/hub/config";
import { createHub, type RunningHub } from "../../../src/hub/server";
import { ADMIN_PASSWORD, tempDir } from "../../helpers";

let hub: RunningHub;
let agent: Agent;
let port: number;
const logs: string[] = [];
let key: { clientId: string; secret: string };

beforeAll(async () => {
  process.env.CERTHUB_ADMIN_PASSWORD = ADMIN_PASSWORD;
  hub = await createHub(resolveHubConfig({ "data-dir": tempDir("certhub-hub-tls-"), listen: "127.0.0.1:0" }));
  delete process.env.CERTHUB_ADMIN_PASSWORD;
  port = new URL(hub.url).port ? Number(new URL(hub.url).port) : 0;
  key = hub.bootstrap!.joiningKey;
  agent = await Agent.create({ dataDir: tempDir("certhub-agent-"), listen: null, allowScripts: false }, (m) => logs.push(m));
  await agent.start();
});
afterAll(async () => {
  await agent.stop();
  await hub.stop();
});

const joinWith = (url: string, secret = key.secret) => agent.join({ url, clientId: key.clientId, secret, fingerprint: hub.fingerprint ?? null });

describe("join URL mistakes", () => {
  test("http:// against the HTTPS hub says the hub speaks HTTPS", async () => {
    for (const fingerprint of [hub.fingerprint ?? null, null]) {
      logs.length = 0;
      const err = await agent.join({ url: `http://127.0.0.1:${port}`, clientId: key.clientId, secret: key.secret, fingerprint }).then(() => null, (e: Error) => e);
      expect(err?.message ?? "").toContain("the hub speaks HTTPS");
      expect(err?.message).toContain(`use https://127.0.0.1:${port}`);
      expect(logs.some((l) => l.startsWith("join failed:") && l.includes("speaks HTTPS"))).toBe(true);
    }
  });

  test("no scheme says to add https://", () => {
    expect(() => normalizeHubUrl(`localhost:${port}`)).toThrow(`add https:// (e.g. https://localhost:${port})`);
  });

  test("the <secret> placeholder left in is named", async () => {
    const err = await joinWith(`https://127.0.0.1:${port}`, "<secret>").then(() => null, (e: Error) => e);
    expect(err?.message ?? "").toContain("placeholder <secret>");
  });

  test("a page address copied from the browser joins at the hub's base URL", async () => {
    expect(normalizeHubUrl(`https://127.0.0.1:${port}/instances/abc`)).toBe(`https://127.0.0.1:${port}`);
    expect(normalizeHubUrl(`https://hub.example/certhub/settings/api-access`)).toBe("https://hub.example/certhub");
    const r = await joinWith(`https://127.0.0.1:${port}/instances`);
    expect(r.instanceId).toBeTruthy();
    expect(r.hubUrl).toBe(`https://127.0.0.1:${port}`);
  });
});
