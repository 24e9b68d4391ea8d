// Giving memory back after a burst of push connections (src/hub/fleet/settle.ts): when the
// settler runs (once per burst, not for a steady rate, not while the machine is busy or the event
// loop lags) and that it really returns memory.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readCpuPressure, settleMemory, startMemorySettler, type SettleOptions, type SettleParts } from "../../../src/hub/fleet/settle";

/** A settler whose settle is recorded instead of run, on a quiet machine unless told otherwise. */
function recordingSettler(over: Partial<SettleOptions> & { opened: () => number }) {
  const settled: SettleParts[] = [];
  const postponed: { reason: string; givenUp: boolean }[] = [];
  const settler = startMemorySettler({
    minBurst: 100,
    intervalMs: 20,
    minGapMs: 200,
    cpuPressure: () => 0,
    settle: async () => ({ collectMs: 1, trimMs: 1, trimmed: true }),
    onSettle: (_ms, parts) => settled.push(parts),
    onPostpone: (reason, givenUp) => postponed.push({ reason, givenUp }),
    ...over,
  });
  return { settler, settled, postponed };
}

describe("memory settler", () => {
  test("runs once after a burst has died down, not while it goes on and not for a steady rate", async () => {
    let opened = 0;
    const { settler, settled } = recordingSettler({ opened: () => opened });
    try {
      // The burst: many per tick.
      for (let i = 0; i < 5; i++) {
        opened += 200;
        await Bun.sleep(20);
      }
      expect(settled.length).toBe(0);
      await Bun.sleep(100); // quiet: settles once
      expect(settled.length).toBe(1);
      // A steady trickle below the burst size never adds up to another settle within the gap.
      for (let i = 0; i < 5; i++) {
        opened += 5;
        await Bun.sleep(20);
      }
      expect(settled.length).toBe(1);
    } finally {
      settler.stop();
    }
  });

  test("waits while the CPU is contended, settles once it is quiet, and gives up on a burst if it never is", async () => {
    let opened = 0;
    let pressure = 0.9;
    const { settler, settled, postponed } = recordingSettler({ opened: () => opened, cpuPressure: () => pressure, maxPostponeMs: 10_000 });
    try {
      opened += 1000;
      await Bun.sleep(150);
      expect(settled.length).toBe(0);
      expect(postponed.length).toBeGreaterThan(0);
      expect(postponed[0].reason).toContain("CPU pressure 90 %");
      pressure = 0.1;
      await Bun.sleep(100);
      expect(settled.length).toBe(1);
    } finally {
      settler.stop();
    }

    // Busy for longer than maxPostponeMs: this burst is dropped, not settled late in a busy spell.
    opened = 0;
    const busy = recordingSettler({ opened: () => opened, cpuPressure: () => 0.9, maxPostponeMs: 100 });
    try {
      opened += 1000;
      await Bun.sleep(250);
      expect(busy.postponed.some((p) => p.givenUp)).toBe(true);
      expect(busy.settled.length).toBe(0);
    } finally {
      busy.settler.stop();
    }
  });

  test("refuses to pause an event loop that is already lagging", async () => {
    let opened = 0;
    // The clock the settler reads: each tick seems to come 100 ms late while `stalling`.
    let skew = 0;
    let stalling = true;
    const now = () => {
      if (stalling) skew += 100;
      return performance.now() + skew;
    };
    const { settler, settled, postponed } = recordingSettler({ opened: () => opened, now, maxLagMs: 50 });
    try {
      opened += 1000;
      await Bun.sleep(150);
      expect(settled.length).toBe(0);
      expect(postponed.at(-1)?.reason).toMatch(/event loop lagging \d+ ms/);
      stalling = false;
      await Bun.sleep(100);
      expect(settled.length).toBe(1);
    } finally {
      settler.stop();
    }
  });

  test("skips the trim when the machine got busy during the collection, or the collection already took long", async () => {
    const busy = await settleMemory(() => "CPU pressure 95 %");
    expect(busy.trimmed).toBe(false);
    expect(busy.trimMs).toBe(0);
    expect(busy.collectMs).toBeGreaterThan(0);
    const long = await settleMemory(() => null, { maxCollectMs: 0 }); // every collection is "long"
    expect(long.trimmed).toBe(false);
    expect(long.trimMs).toBe(0);
  });

  test.skipIf(process.platform !== "linux")("reads the kernel's CPU pressure as a share", () => {
    const p = readCpuPressure();
    if (!existsSync("/proc/pressure/cpu")) {
      // A kernel without PSI (or a container hiding it): the settler falls back to the
      // event-loop lag alone. Said loudly, since the main contention check is off here.
      console.warn("NOTE: /proc/pressure/cpu is missing on this machine: the memory settler relies on event-loop lag alone");
      expect(p).toBeNull();
      return;
    }
    // A null here would silently disable the check.
    expect(p).not.toBeNull();
    expect(p!).toBeGreaterThanOrEqual(0);
    expect(p!).toBeLessThanOrEqual(1);
  });

  test.skipIf(process.platform !== "linux")(
    "gives back the native garbage of thousands of one-row queries",
    async () => {
      // In a fresh process (the fixture says why): the figures are the allocators' own, not
      // whatever the files before this one left in them.
      const run = Bun.spawnSync([process.execPath, join(import.meta.dir, "settle-garbage.fixture.ts")], { stdout: "pipe", stderr: "pipe" });
      expect(run.exitCode, run.stderr.toString()).toBe(0);
      const { grown, kept, trimmed } = JSON.parse(run.stdout.toString().trim().split("\n").at(-1)!) as { grown: number; kept: number; trimmed: boolean };
      console.log(`16,000 one-row queries: RSS +${(grown / 2 ** 20).toFixed(1)} MiB, after the settle +${(kept / 2 ** 20).toFixed(1)} MiB`);
      expect(grown).toBeGreaterThan(20 * 1024 * 1024); // else this test measures nothing
      expect(trimmed).toBe(true);
      expect(kept).toBeLessThan(grown / 2); // a collection alone keeps ~60 %: the pages stay in malloc
    },
    20_000,
  );
});
