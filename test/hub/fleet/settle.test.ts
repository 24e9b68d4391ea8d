// Giving memory back after a burst of push connections (src/hub/fleet/settle.ts): when the
// settler runs (once per burst, not for a steady rate) and that it really returns memory.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createClient } from "@libsql/client";
import { settleMemory, startMemorySettler } from "../../../src/hub/fleet/settle";

const rssBytes = () => Number(readFileSync("/proc/self/status", "utf8").match(/^VmRSS:\s+(\d+) kB/m)![1]) * 1024;

describe("memory settler", () => {
  test("runs once after a burst has died down, not while it goes on and not for a steady rate", async () => {
    let opened = 0;
    const pauses: number[] = [];
    const settler = startMemorySettler({ opened: () => opened, minBurst: 100, intervalMs: 20, minGapMs: 200, onSettle: (ms) => pauses.push(ms) });
    try {
      // The burst: many per tick.
      for (let i = 0; i < 5; i++) {
        opened += 200;
        await Bun.sleep(20);
      }
      expect(pauses.length).toBe(0);
      await Bun.sleep(100); // quiet: settles once
      await Bun.sleep(20);
      expect(pauses.length).toBe(1);
      expect(pauses[0]).toBeGreaterThanOrEqual(0);
      // A steady trickle below the burst size never adds up to another settle within the gap.
      for (let i = 0; i < 5; i++) {
        opened += 5;
        await Bun.sleep(20);
      }
      expect(pauses.length).toBe(1);
    } finally {
      settler.stop();
    }
  });

  test.skipIf(process.platform !== "linux")("gives back the native garbage of thousands of one-row queries", async () => {
    // Each libSQL statement holds ~20 KiB of native memory until the collector finalizes it:
    // the same garbage a burst of upgrades with cache misses leaves.
    const db = createClient({ url: ":memory:" });
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    await db.execute("INSERT INTO t (id, v) VALUES (1, 'x')");
    await settleMemory();
    const before = rssBytes();
    for (let i = 0; i < 4000; i++) await db.execute({ sql: "SELECT v FROM t WHERE id = ?", args: [1] });
    const grown = rssBytes() - before;
    expect(grown).toBeGreaterThan(20 * 1024 * 1024); // else this test measures nothing
    await settleMemory();
    const kept = rssBytes() - before;
    db.close();
    expect(kept).toBeLessThan(grown / 2); // a collection alone keeps ~60 %: the pages stay in malloc
  });
});
