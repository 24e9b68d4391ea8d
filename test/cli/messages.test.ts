// What the CLI prints when something is wrong (issue 12 #12): validation errors as sentences
// naming the flag, never zod's JSON; `hub status` of a revoked agent says the reason once;
// an agent started with --join logs the security warning and "joined" once each.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, runCli, tempDir, ROOT } from "../helpers";
import { signIn, startTestHub, type Session, type TestHub } from "../helpers/session";

describe("CLI messages", () => {
  let hub: TestHub;
  let admin: Session;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDir("cli-msg-hub-");
    hub = await startTestHub({ dataDir });
    admin = await signIn(hub.url);
  });
  afterAll(() => hub.stop());

  test("a value the rules refuse is a sentence naming the flag", async () => {
    const r = await runCli(["keys", "create", "--title", "x".repeat(300), "--data-dir", dataDir], { bin: "source" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("certhub: --title is too long (at most 100 characters)");
    const g = await runCli(["keys", "create", "--title", "ok", "--group", "g".repeat(300), "--data-dir", dataDir], { bin: "source" });
    expect(g.stderr.trim()).toBe("certhub: --group is too long (at most 100 characters)");
    for (const out of [r.stderr, g.stderr]) {
      expect(out).not.toContain('"code"');
      expect(out).not.toContain("[");
    }
  });

  test("hub status of a revoked agent gives the reason once; the --join log has no repeated lines", async () => {
    const key = (await (await admin.json("/api/v1/tokens", "POST", { title: "CLI status key" })).json()) as { clientId: string; secret: string };
    const agentDir = tempDir("cli-msg-agent-");
    writeFileSync(join(agentDir, "..", `secret-${key.clientId}`), key.secret, { mode: 0o600 });
    const port = await freePort();
    const proc = Bun.spawn(
      [process.execPath, join(ROOT, "src/main.ts"), "--agent", "--data-dir", agentDir, "--listen", `127.0.0.1:${port}`, "--join", hub.url, "--client-id", key.clientId, "--secret-file", join(agentDir, "..", `secret-${key.clientId}`)],
      { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
    );
    try {
      const status = () => runCli(["hub", "status", "--data-dir", agentDir, "--listen", `127.0.0.1:${port}`], { bin: "source" });
      let s = await status();
      for (let i = 0; i < 100 && !s.stdout.includes("status:        connected"); i++) {
        await Bun.sleep(100);
        s = await status();
      }
      expect(s.stdout).toContain("status:        connected");
      const { id } = (await (await admin.fetch("/api/v1/instances")).json()).items?.[0] ?? (await (await admin.fetch("/api/v1/instances")).json())[0];
      expect((await admin.fetch(`/api/v1/instances/${id}/revoke`, { method: "POST" })).status).toBe(200);
      for (let i = 0; i < 100 && !s.stdout.includes("access revoked"); i++) {
        await Bun.sleep(100);
        s = await status();
      }
      const lines = s.stdout.trim().split("\n");
      expect(lines.filter((l) => l.includes("access revoked"))).toEqual(["status:        access revoked: this instance was revoked in the hub"]);
      expect(s.stdout).not.toContain("last error:");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
    const log = (await new Response(proc.stdout).text()).split("\n").filter(Boolean);
    const repeated = log.filter((l, i) => log.indexOf(l) !== i);
    expect(repeated).toEqual([]);
    expect(log.filter((l) => l.includes("Security: the hub will control")).length).toBe(1);
    expect(log.filter((l) => /\bjoined\b.*inst_/.test(l)).length).toBe(1);
  }, 60_000);
});
