// The command registry: every type the hub can queue has a handler, and the certificate
// commands refuse malformed payloads before touching anything.
import { afterAll, describe, expect, test } from "bun:test";
import { CertificateLifecycle } from "../../../src/agent/certificates/lifecycle";
import { handlerFor, HANDLERS } from "../../../src/agent/commands/registry";
import { AgentStore } from "../../../src/agent/db/store";
import { COMMAND_TYPES } from "../../../src/protocol";
import { tempDir } from "../../helpers";

const dataDir = tempDir("certhub-agent-");
const store = await AgentStore.open(dataDir);
const certificates = new CertificateLifecycle({ store, dataDir, allowScripts: false, log: () => {}, onChange: () => {} });
await certificates.start();
afterAll(async () => {
  await certificates.stop();
  store.close();
});
const ctx = { store, allowScripts: false, log: () => {}, certificates };

describe("command registry", () => {
  test("every command type of the protocol has a handler", () => {
    for (const type of COMMAND_TYPES) expect(handlerFor(type)).toBeFunction();
    expect(Object.keys(HANDLERS).sort()).toEqual([...COMMAND_TYPES].sort());
  });

  test("prototype names are not handlers", () => {
    expect(handlerFor("constructor")).toBeUndefined();
    expect(handlerFor("__proto__")).toBeUndefined();
  });

  test.each([
    ["renew-certificate", {}],
    ["renew-certificate", { certificateId: "../x" }],
    ["test-certificate", { certificateId: 7 }],
    ["deploy-certificate", null],
    ["renew-now", { certificateId: "a", extra: true }],
    ["update-settings", { values: "x" }],
    ["test-task", { certificateId: "a" }],
    ["test-task", { certificateId: "a", index: -1 }],
    ["test-task", { certificateId: "a", index: 0, extra: 1 }],
  ])("%s refuses payload %j", async (type, payload) => {
    const r = await handlerFor(type)!(payload, ctx);
    expect(r.status).toBe("rejected");
    expect(r.message).toContain("invalid payload");
  });

  test("certificate commands for a certificate this agent does not have fail clearly", async () => {
    for (const type of ["renew-certificate", "test-certificate", "deploy-certificate"]) {
      const r = await handlerFor(type)!({ certificateId: "mc_unknown" }, ctx);
      expect(r.status).toBe("failed");
      expect(r.message).toContain("mc_unknown");
    }
    const r = await handlerFor("test-task")!({ certificateId: "mc_unknown", index: 0 }, ctx);
    expect(r.status).toBe("failed");
    expect(r.message).toContain("mc_unknown");
  });
});
