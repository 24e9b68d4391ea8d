// What each command type does on the agent. A handler returns the result the hub will see;
// it never throws for expected outcomes (refusals, nothing to do).
import { z } from "zod";
import { VERSION } from "../../version";
import type { AgentStore } from "../db/store";

export interface HandlerContext {
  store: AgentStore;
  allowScripts: boolean;
  log: (msg: string) => void;
}

export interface HandlerResult {
  status: "succeeded" | "failed" | "rejected";
  message: string;
  data?: unknown;
}

type Handler = (payload: unknown, ctx: HandlerContext) => Promise<HandlerResult>;

const UpdateSettingsPayload = z.object({ values: z.record(z.string().min(1).max(128), z.unknown()) });
const RunScriptPayload = z.object({
  script: z.string().min(1).max(64 * 1024),
  timeoutSeconds: z.number().int().min(1).max(3600).optional(),
});

const OUTPUT_LIMIT = 4000;

export const HANDLERS: Record<string, Handler> = {
  async ping() {
    return { status: "succeeded", message: "pong", data: { version: VERSION, time: Date.now() } };
  },

  async "renew-now"(_payload, { store }) {
    const managed = (await store.certificates()).filter((c) => c.source === "managed");
    if (managed.length === 0) {
      return { status: "succeeded", message: "nothing to renew: this agent manages no certificates yet", data: { renewed: 0 } };
    }
    // Issuance/renewal arrives with certificate management (roadmap 1).
    return { status: "failed", message: `renewal is not available in agent ${VERSION}`, data: { managed: managed.length } };
  },

  async "refresh-external-scan"() {
    return {
      status: "succeeded",
      message: "no external certificate managers are configured on this agent yet; nothing to scan",
      data: { scanned: 0 },
    };
  },

  async "update-settings"(payload, { store }) {
    const parsed = UpdateSettingsPayload.safeParse(payload);
    if (!parsed.success) return { status: "rejected", message: 'invalid payload: expected {"values": {…}}' };
    await store.setSettings(parsed.data.values, "command");
    const keys = Object.keys(parsed.data.values);
    return { status: "succeeded", message: `applied ${keys.length} setting(s)`, data: { keys } };
  },

  async "run-script"(payload, { allowScripts, log }) {
    if (!allowScripts) {
      return {
        status: "rejected",
        message:
          "scripts are disabled on this host: the host admin must start the agent with --allow-scripts " +
          '(or set "allowScripts": true in agent.json in the agent data dir)',
      };
    }
    const parsed = RunScriptPayload.safeParse(payload);
    if (!parsed.success) return { status: "rejected", message: 'invalid payload: expected {"script": "…"}' };
    log(`running script from the hub (${parsed.data.script.length} bytes)`);
    const proc = Bun.spawn(["/bin/sh", "-c", parsed.data.script], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: (parsed.data.timeoutSeconds ?? 300) * 1000,
      killSignal: "SIGKILL",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const data = { exitCode: code, signal: proc.signalCode, stdout: stdout.slice(-OUTPUT_LIMIT), stderr: stderr.slice(-OUTPUT_LIMIT) };
    if (proc.signalCode) return { status: "failed", message: `script killed by ${proc.signalCode} (timeout?)`, data };
    return code === 0 ? { status: "succeeded", message: "script exited 0", data } : { status: "failed", message: `script exited ${code}`, data };
  },
};
