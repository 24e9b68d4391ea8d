// Run by settle.test.ts in a fresh bun process: fills the heap and malloc with the native garbage
// of thousands of one-row libSQL queries, settles, and prints the RSS figures as JSON. A fresh
// process because the figures depend on the allocators' state: inside `bun test` after a hundred
// other files, malloc already holds free pages that the statements reuse, and RSS barely grows.
import { readFileSync } from "node:fs";
import { createClient } from "@libsql/client";
import { settleMemory } from "../../../src/hub/fleet/settle";

const rssBytes = () => Number(readFileSync("/proc/self/status", "utf8").match(/^VmRSS:\s+(\d+) kB/m)![1]) * 1024;

// Each libSQL statement holds ~20 KiB of native memory until the collector finalizes it: the same
// garbage a burst of upgrades with cache misses leaves.
const db = createClient({ url: ":memory:" });
await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
await db.execute("INSERT INTO t (id, v) VALUES (1, 'x')");
await settleMemory();
const before = rssBytes();
// 16,000: ~60 MiB of garbage, so the fixed ~10 MiB a trim cannot give back (heap, code) stays well under half.
for (let i = 0; i < 16_000; i++) await db.execute({ sql: "SELECT v FROM t WHERE id = ?", args: [1] });
const grown = rssBytes() - before;
const parts = await settleMemory(() => null, { maxCollectMs: Infinity }); // a busy machine must not skip the trim here
const kept = rssBytes() - before;
db.close();
console.log(JSON.stringify({ grown, kept, trimmed: parts.trimmed }));
