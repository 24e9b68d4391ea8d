// External ACME clients on an instance (certbot, acme.sh, Posh-ACME, simple-acme, win-acme):
// the hub's view of the agent's last scan per client, and the "rescan now" command. Before
// the first report a client shows its configured state: "disabled" when the effective
// setting turns it off, otherwise "not-found" with scannedAt null (nothing scanned yet).
import type { Actor } from "../../db/audit";
import { externalManagersOf } from "../../db/agent-reports";
import { EXTERNAL_MANAGERS, type ExternalManagerName } from "../../protocol/certificates";
import type { ExternalManagersSetting } from "../../protocol/settings";
import type { CoreDeps } from "./deps";
import { notFound } from "./errors";
import { queueCommand } from "./instances";
import { usableInstance } from "./managed-certificates";
import type { InstanceScopeFacts } from "./scope";
import { effectiveValues } from "./settings";

export interface ExternalManagerView {
  name: ExternalManagerName;
  status: "ok" | "not-found" | "disabled" | "error";
  configPath: string | null;
  certificateCount: number;
  scannedAt: number | null;
  problems: string[];
}

export async function externalManagersView(core: Pick<CoreDeps, "db">, inst: InstanceScopeFacts): Promise<ExternalManagerView[]> {
  const [rows, values] = await Promise.all([externalManagersOf(core.db, inst.id), effectiveValues(core, inst)]);
  const reported = new Map(rows.map((r) => [r.name, r]));
  const setting = (values.externalManagers ?? {}) as ExternalManagersSetting;
  return EXTERNAL_MANAGERS.map((name) => {
    const r = reported.get(name);
    if (r) return { name, status: r.status, configPath: r.configPath, certificateCount: r.certificateCount, scannedAt: r.scannedAt, problems: r.problems };
    const s = setting[name];
    return { name, status: s?.enabled === false ? "disabled" : "not-found", configPath: s?.configPath ?? null, certificateCount: 0, scannedAt: null, problems: [] };
  });
}

/** Asks the agent to rescan its external clients now (202 with the queued command). */
export async function refreshExternalScan(core: CoreDeps, actor: Actor, instanceId: string) {
  const inst = await usableInstance(core, instanceId);
  const cmd = await queueCommand(core, inst.id, "refresh-external-scan", {}, actor);
  if (!cmd) throw notFound(`instance ${instanceId} not found`);
  return { commandId: cmd.id, seq: cmd.seq, type: "refresh-external-scan" as const, status: "queued" as const };
}
