// Small helpers shared by the bench harness (run.ts) and its scenarios.

/** Throughput and latency percentiles of a finished run (sorts `latencies` in place). */
export function summarize(latencies: number[], elapsedS: number): { rps: number; p50Ms?: number; p99Ms?: number; maxMs?: number; requests: number } {
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { rps: latencies.length / elapsedS, p50Ms: pct(50), p99Ms: pct(99), maxMs: latencies[latencies.length - 1], requests: latencies.length };
}
