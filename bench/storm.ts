// The reconnect-storm scenario for `npm run bench` (issue 13): --storm N agents (default 2000)
// hold their waits; the hub is restarted on the same port and data dir; every agent reconnects
// after a fully jittered pause (0–5 s, as src/agent/sync/push.ts does): time until all hold
// again, /healthz worst case meanwhile. Runs its own hub (bench/scale.ts helpers).
import { holdWaits, type HeldFleet } from "./held";
import { f1, freshHub, healthzLatencies, seed, until, WAIT_SECONDS } from "./scale";
import type { Scenario } from "./types";

const reconnectStorm: Scenario = {
  name: "reconnect-storm",
  async run(ctx) {
    const n = ctx.options.storm;
    let { hub, dataDir } = await freshHub(ctx);
    let fleet: HeldFleet | undefined;
    try {
      const agents = await seed(ctx, dataDir, n);
      // The agent's rule after a long-held poll drops: re-poll after 0–5 s (full jitter).
      fleet = holdWaits({ port: hub.port, agents, timeoutSeconds: WAIT_SECONDS, reconnectDelayMs: () => Math.random() * 5000 });
      if (!(await until(() => fleet!.holding >= n, 120_000))) throw new Error(`only ${fleet.holding} of ${n} agents hold a wait before the restart`);
      const port = hub.port;
      const restartT0 = performance.now();
      await hub.stop();
      ({ hub } = await freshHub(ctx, port, dataDir));
      const upMs = performance.now() - restartT0;
      const health = healthzLatencies(hub.url, 40, 200);
      const back = await until(() => fleet!.holding >= n, 120_000);
      const allBackMs = performance.now() - restartT0;
      const h = await health;
      if (!back) throw new Error(`only ${fleet.holding} of ${n} agents back after 120 s`);
      return {
        rps: 0,
        tool: "fetch",
        requests: 0,
        p50Ms: h.p50,
        p99Ms: h.p99,
        notes: [
          `${n} agents holding waits, hub restarted (stop + start ${(upMs / 1000).toFixed(1)} s): all ${n} waiting again ${((allBackMs - upMs) / 1000).toFixed(1)} s after the new hub answered; ` +
            `/healthz meanwhile p50 ${f1(h.p50)} ms, p99 ${f1(h.p99)} ms, max ${f1(h.max)} ms, ${h.failed} failed (p50/p99 columns are these)`,
        ],
        extra: { storm: { agents: n, restartMs: upMs, allBackAfterUpMs: allBackMs - upMs, healthz: h } },
      };
    } finally {
      fleet?.stop();
      await hub.stop();
    }
  },
};

export const STORM_SCENARIOS: Scenario[] = [reconnectStorm];
