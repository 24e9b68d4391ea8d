// Giving memory back after a burst of push connections (src/hub/fleet/settle.ts): when the
// settler runs (once per burst, not for a steady rate, not while the machine is busy or the event
// loop lags) and that it really returns memory.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { until } from "../../helpers/poll";
import { readCpuPressure, settleMemory, startMemorySettler, type SettleOptions, type SettleParts } from "../../../src/hub/fleet/settle";

/**
 * A settler whose settle is recorded instead of run, on a quiet machine unless told otherwise:
 * the CPU pressure is the test's, and the real event-loop lag is not looked at (maxLagMs
 * Infinity) unless a test sets it, since a loaded test machine lags 50-100 ms by itself.
 */
function recordingSettler(over: Partial<SettleOptions> & { opened: () => number }) {
  const settled: SettleParts[] = [];
  const postponed: { reason: string; givenUp: boolean }[] = [];
  const settler = startMemorySettler({
    minBurst: 100,
    intervalMs: 20,
    minGapMs: 200,
    maxLagMs: Infinity,
    cpuPressure: () => 0,
    settle: async () => ({ collectMs: 1, trimMs: 1, trimmed: true }),
    onSettle: (_ms, parts) => settled.push(parts),
    onPostpone: (reason, givenUp) => postponed.push({ reason, givenUp }),
    ...over,
  });
  return { settler, settled, postponed };
}

/**
 * Sockets opened as the settler sees them, tick by tick: it reads `opened()` once per tick, so a
 * schedule keyed to that count cannot be split by a late timer (a test sleeping beside the
 * settler's interval on a loaded machine sometimes let two ticks pass between its increments).
 */
function tickSchedule(perTick: (tick: number) => number) {
  let ticks = -1; // the settler's first read is at its start, before any tick
  let opened = 0;
  return {
    opened: () => {
      ticks++;
      return (opened += ticks > 0 ? perTick(ticks) : 0);
    },
    ticks: () => ticks,
  };
}

describe("memory settler", () => {
  test("runs once after a burst has died down, not while it goes on and not for a steady rate", async () => {
    // Ticks 1-5 the burst (200 each), 6-10 quiet, 11-20 a trickle of 5 (50 in all, below the burst size).
    const s = tickSchedule((t) => (t <= 5 ? 200 : t <= 10 ? 0 : t <= 20 ? 5 : 0));
    const settledAtTick: number[] = [];
    const { settler } = recordingSettler({
      opened: s.opened,
      settle: async () => {
        settledAtTick.push(s.ticks());
        return { collectMs: 1, trimMs: 1, trimmed: true };
      },
    });
    try {
      await until("25 settler ticks", () => s.ticks() >= 25, 10_000, 10);
      // Not during the burst, once at its first quiet tick, not for the trickle after the gap.
      expect(settledAtTick).toEqual([6]);
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
      await until("a postponed settle", () => postponed.length >= 3, 5000, 10);
      expect(settled.length).toBe(0);
      expect(postponed[0].reason).toContain("CPU pressure 90 %");
      expect(postponed.some((p) => p.givenUp)).toBe(false);
      pressure = 0.1;
      await until("the settle once the CPU is free", () => settled.length > 0, 5000, 10);
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
      await until("the burst given up", () => busy.postponed.some((p) => p.givenUp), 5000, 10);
      await Bun.sleep(100);
      expect(busy.settled.length).toBe(0);
    } finally {
      busy.settler.stop();
    }
  });

  test("refuses to pause an event loop that is already lagging", async () => {
    let opened = 0;
    // The settler's clock, read once per tick (and once at its start): each tick comes exactly on
    // time, or 100 ms late while `stalling`, whatever the real timers do on a loaded machine.
    let clock = 0;
    let stalling = true;
    const now = () => (clock += stalling ? 20 + 100 : 20);
    const { settler, settled, postponed } = recordingSettler({ opened: () => opened, now, maxLagMs: 50 });
    try {
      opened += 1000;
      await until("a postponed settle", () => postponed.length >= 3, 5000, 10);
      expect(settled.length).toBe(0);
      expect(postponed.every((p) => /^event loop lagging 100 ms$/.test(p.reason))).toBe(true);
      stalling = false;
      await until("the settle once the loop keeps time", () => settled.length > 0, 5000, 10);
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
