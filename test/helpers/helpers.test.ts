// Sanity checks for the shared test helpers themselves (no build needed).
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { freePort, runCli, tempDir } from ".";

test("freePort returns a bindable loopback port, below the ephemeral range outgoing connections take theirs from, never twice", async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  if (existsSync("/proc/sys/net/ipv4/ip_local_port_range")) {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (low > 12_000) expect(port).toBeLessThan(low);
  }
  const more = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  expect(new Set([port, ...more]).size).toBe(21);
  const srv = createServer();
  await new Promise<void>((ok, fail) => srv.once("error", fail).listen(port, "127.0.0.1", ok));
  await new Promise((ok) => srv.close(ok));
});

test("tempDir creates distinct empty directories", () => {
  const a = tempDir("helpers-");
  const b = tempDir("helpers-");
  expect(a).not.toBe(b);
  expect(existsSync(a) && readdirSync(a).length === 0).toBe(true);
});

test("runCli runs the source entry point", async () => {
  const r = await runCli(["--version"], { bin: "source" });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^certhub \d+\.\d+\.\d+/);
});
