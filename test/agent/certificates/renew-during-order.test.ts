// "Renew now" that arrives while an order of the same certificate runs is not lost: one more
// order runs after the running one (several requests coalesce into one), and the attempt history
// says so. Real Pebble with real DNS-01 validation through pebble-challtestsrv; the order is made
// slow on purpose by the lego-style exec hook sleeping before it publishes the TXT record, so the
// requests (API renew and the instance-level renew-now command) land in the middle of it.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Agent } from "../../../src/agent/agent";
import { tempDir } from "../../helpers";
import { startChallTestSrv, startPebble, type ChallTestSrv, type Pebble } from "../../helpers/acme-peers";
import { signIn, startTestHub, type Session, type TestHub } from "../../helpers/session";

let pebble: Pebble;
let dns: ChallTestSrv;
let hub: TestHub;
let admin: Session;
let agent: Agent;
let instanceId: string;
let caAccountId: string;
const logs: string[] = [];

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nagent log:\n${logs.slice(-30).join("\n")}`);
    await Bun.sleep(50);
  }
}

async function api(pathname: string, method = "GET", body?: unknown) {
  const res = body === undefined ? await admin.fetch(pathname, { method }) : await admin.json(pathname, method, body);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

beforeAll(async () => {
  dns = await startChallTestSrv();
  pebble = await startPebble({ dnsServer: dns.dnsServer, env: { PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
  hub = await startTestHub();
  admin = await signIn(hub.url);
  const ca = await api("/api/v1/ca-accounts", "POST", { title: "Pebble", directoryUrl: pebble.directoryUrl, email: "ops@example.com", scope: "global", trustedRootsPem: pebble.caPem });
  expect(ca.status).toBe(201);
  caAccountId = ca.json.id;
  agent = await Agent.create({ dataDir: tempDir("certhub-agent-renew-"), listen: null, allowScripts: true }, (m) => logs.push(m), { dnsResolver: dns.dnsServer });
  await agent.start();
  const key = await api("/api/v1/tokens", "POST", { title: "renew during order" });
  expect(key.status).toBe(201);
  ({ instanceId } = await agent.join({ url: hub.url, clientId: key.json.clientId, secret: key.json.secret, fingerprint: null }));
  await until("agent connected", async () => (await agent.status()).status === "connected");
}, 60_000);

afterAll(async () => {
  await agent?.stop().catch(() => {});
  await hub?.stop();
  await pebble?.stop();
  await dns?.stop();
});

describe("renew now during a running order", () => {
  test("requests during the order → exactly one more order after it: two new serials, the second attempt says why", async () => {
    const dir = tempDir("certhub-slow-hook-");
    const hook = path.join(dir, "hook.sh");
    const calls = path.join(dir, "calls.log");
    const delay = path.join(dir, "delay");
    writeFileSync(delay, "0");
    // lego exec argv: present|cleanup <fqdn.> <value>; "present" sleeps `delay` seconds first.
    writeFileSync(
      hook,
      `#!/bin/sh
echo "$1 $2" >> ${calls}
case "$1" in
  present) sleep "$(cat ${delay})"; curl -sf -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${dns.managementUrl}/set-txt ;;
  cleanup) curl -sf -X POST -d "{\\"host\\":\\"$2\\"}" ${dns.managementUrl}/clear-txt ;;
esac
`,
    );
    chmodSync(hook, 0o755);
    const presents = () => readFileSync(calls, "utf8").split("\n").filter((l) => l.startsWith("present ")).length;

    const created = await api("/api/v1/managed-certificates", "POST", {
      instanceId,
      caAccountId,
      name: "slow",
      domains: [`slow-${process.pid}.certhub.test`],
      challenge: { type: "dns-01", provider: "exec", command: hook },
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    const first = await until("first issuance", async () => {
      const c = (await api(`/api/v1/managed-certificates/${id}`)).json;
      return c?.status === "valid" && c.serial ? c : null;
    }, 60_000);

    // A slow order: the hook waits 3 s before publishing the TXT record.
    writeFileSync(delay, "3");
    const before = presents();
    expect((await api(`/api/v1/managed-certificates/${id}/renew`, "POST", {})).status).toBe(202);
    await until("the renewal order is in its challenge", async () => presents() > before, 20_000);
    // Mid-order: three more requests (API twice, the instance-level command once) → one more order.
    const t0 = performance.now();
    expect((await api(`/api/v1/managed-certificates/${id}/renew`, "POST", {})).status).toBe(202);
    expect((await api(`/api/v1/managed-certificates/${id}/renew`, "POST", {})).status).toBe(202);
    expect((await api(`/api/v1/instances/${instanceId}/commands`, "POST", { type: "renew-now", payload: {} })).status).toBeLessThan(300);
    await Bun.sleep(1000); // the agent takes commands within ~100 ms (push); the hook sleeps 3 s
    expect(presents()).toBe(before + 1); // still the first renewal order
    writeFileSync(delay, "0");

    const after = await until("two renewals after the first issuance", async () => {
      const c = (await api(`/api/v1/managed-certificates/${id}`)).json;
      const renewals = c?.attempts?.filter((a: any) => a.kind === "renew" && a.at >= first.attempts[0].at) ?? [];
      return renewals.length >= 2 && c.status === "valid" ? c : null;
    }, 60_000);
    const secondSerialMs = Math.round(performance.now() - t0);
    // Nothing more follows: the three requests made one order, not three.
    await Bun.sleep(2000);
    const settled = (await api(`/api/v1/managed-certificates/${id}`)).json;
    const renewals = settled.attempts.filter((a: any) => a.kind === "renew");
    expect(renewals.map((a: any) => a.outcome)).toEqual(["succeeded", "succeeded"]);
    const [second, firstRenewal] = renewals; // newest first
    const serials = [first.serial, firstRenewal.serial, second.serial];
    expect(new Set(serials).size).toBe(3);
    expect(firstRenewal.message).toBe(`issued ${firstRenewal.serial}`);
    expect(second.message).toBe(`issued ${second.serial} (renew now, asked for while the previous order ran)`);
    expect(second.at).toBeGreaterThan(firstRenewal.at);
    expect(settled.serial).toBe(second.serial);
    expect(after.serial).toBe(second.serial);
    expect(logs.filter((l) => l.includes(`certificate ${id}: renew now while its order runs: one more order follows it`))).toHaveLength(1);
    console.log(`renew now mid-order → second new serial ${secondSerialMs} ms later (first order held 3 s in its hook)`);
  }, 120_000);
});
