// A burst of signed agent requests does not hold the hub's event loop (src/hub/middleware/agent-admission.ts):
// 2,000 agents send a wait at the same moment (as after a hub restart) and a /healthz sent
// right behind them on an open keep-alive connection is answered long before the last agent.
// Without admission the hub worked through the whole burst in one loop turn and answered
// /healthz after it (and stopped accepting meanwhile; the listen queue overflowed and dropped
// SYNs cost 1 s or 3 s each: bench/storm.ts). Timings are relative (the burst's own length),
// so a faster or busier machine does not change the verdict.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { RawConnection, seedWaitAgents, waitRequest } from "../../../bench/held";
import { runCli, startHub, tempDir, type Hub } from "../../helpers";

setDefaultTimeout(90_000);

const bin = process.env.CERTHUB_BIN === "source" ? "source" : undefined;
const AGENTS = 2000;

let hub: Hub | undefined;
const conns: RawConnection[] = [];
afterAll(async () => {
  for (const c of conns) c.close();
  await hub?.stop();
});

test(`/healthz is answered in the middle of a burst of ${AGENTS} agent requests, not after it`, async () => {
  const dataDir = tempDir("certhub-admission-");
  hub = await startHub({ dataDir, bin });
  const created = await runCli(["keys", "create", "--title", "burst", "--json"], { dataDir, bin });
  expect(created.code).toBe(0);
  const agents = await seedWaitAgents(join(dataDir, "hub.db"), JSON.parse(created.stdout).clientId, AGENTS, "burst");
  for (const _ of agents) conns.push(new RawConnection(hub.port));
  const health = new RawConnection(hub.port);
  const metrics = new RawConnection(hub.port);
  conns.push(health, metrics);
  expect((await Promise.all(conns.map((c) => c.connected))).every(Boolean)).toBe(true);
  const healthz = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${hub.port}\r\n\r\n`;
  expect((await health.send(healthz))?.status).toBe(200);

  // settingsVersion 0 is behind the hub's: every wait is answered at once with a nudge.
  const host = `127.0.0.1:${hub.port}`;
  const requests = agents.map((a) => waitRequest(a, { timeoutSeconds: 5, settingsVersion: 0, host }));
  let lastAnswer = 0;
  const t0 = performance.now();
  const answers = Promise.all(
    requests.map((raw, i) =>
      conns[i].send(raw).then((r) => {
        lastAnswer = performance.now();
        return r;
      }),
    ),
  );
  const healthAnswer = await health.send(healthz);
  const healthMs = performance.now() - t0;
  // The queue an operator watches on /metrics: agents waiting for their turn, mid-burst.
  const metricsAnswer = await metrics.send(`GET /metrics HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const all = await answers;
  const burstMs = lastAnswer - t0;
  console.log(`burst of ${AGENTS} waits answered in ${burstMs.toFixed(0)} ms; /healthz behind it in ${healthMs.toFixed(0)} ms`);

  expect(healthAnswer?.status).toBe(200);
  const queued = Number(metricsAnswer?.body.match(/^certhub_agent_requests_queued (\d+)/m)?.[1]);
  console.log(`agent requests queued when /metrics answered: ${queued}`);
  expect(queued).toBeGreaterThan(0);
  expect(all.every((r) => r?.status === 200 && r.body.includes('"nudge":true'))).toBe(true);
  // The comparison means something only when the burst takes a while to work through.
  expect(burstMs).toBeGreaterThan(100);
  expect(healthMs).toBeLessThan(burstMs / 2);
});
