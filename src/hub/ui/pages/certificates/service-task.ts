// What a service deployment task will do, for the editor and the certificate page. The choices
// come from the wire schema (a manager or action added there shows up here by itself), and the
// command lines from the agent's own service task module, so the page shows exactly what the
// agent runs: the preset's config test, then systemctl / launchctl / the server's own reload.
import type { z } from "zod";
import { ServiceTaskSchema } from "../../../../protocol/certificates";
import { directReloadCommands, presetFor, presetName, serviceCommands, SERVICE_PRESETS } from "../../../../protocol/service-presets";

/** "nginx, apache, haproxy and postfix", from the preset list. */
const PRESETS_TEXT = `${SERVICE_PRESETS.slice(0, -1).join(", ")} and ${SERVICE_PRESETS[SERVICE_PRESETS.length - 1]}`;

type ServiceTask = z.infer<typeof ServiceTaskSchema>;
export type ServiceManager = ServiceTask["manager"];

export const SERVICE_MANAGERS: readonly ServiceManager[] = ServiceTaskSchema.shape.manager.options;
export const SERVICE_ACTIONS: readonly ServiceTask["action"][] = ServiceTaskSchema.shape.action.unwrap().options;

/** Label and when each manager applies; the Record makes the compiler ask for a new manager's words. */
export const MANAGER_TEXT: Record<ServiceManager, { label: string; when: string }> = {
  systemd: { label: "systemd (systemctl)", when: "Linux hosts running systemd" },
  launchd: { label: "launchd (launchctl)", when: "macOS" },
  direct: { label: "direct (the server's own reload)", when: `no service manager (a container, a server started by hand): ${PRESETS_TEXT} only` },
};

export const managerLabel = (m: string) => MANAGER_TEXT[m as ServiceManager]?.label ?? m;
export const managerHint = () => SERVICE_MANAGERS.map((m) => `${m}: ${MANAGER_TEXT[m]?.when ?? "see the documentation"}`).join(" · ");

/** The server a unit/label name stands for (nginx, apache, haproxy, postfix), or null. */
export const servicePreset = (name: string): string | null => (name ? presetName(name) : null);

/** Why a direct task cannot work, or null when it can (or is not direct). */
export function directProblem(manager: string, name: string): string | null {
  if (manager !== "direct" || !name || presetName(name)) return null;
  return `manager "direct" reloads only ${PRESETS_TEXT}; "${name}" is none of them, so this task will fail on the agent (use systemd or launchd, or a script task)`;
}

/**
 * Alternatives: the agent runs the first whose program is found on PATH, so one repeating an
 * earlier program is never chosen and is not shown; the others are named after the first.
 */
function alternatives(list: string[][]): string {
  const reachable = list.filter((argv, i) => list.findIndex((x) => x[0] === argv[0]) === i);
  const [first, ...rest] = reachable.map((argv) => argv.join(" "));
  return rest.length ? `${first} (or ${rest.join(", ")}: the first found on PATH)` : first;
}

/** What a service task runs, in order, as one line an admin can check against the host. */
export function serviceTaskText(t: Record<string, unknown>): string {
  const name = String(t.name ?? "");
  const manager = String(t.manager ?? "");
  const action = t.action === "restart" ? "restart" : "reload";
  const config = typeof t.config === "string" && t.config ? t.config : undefined;
  const problem = directProblem(manager, name);
  if (problem) return problem;
  const steps: string[] = [];
  const test = presetFor(name, config);
  if (test) steps.push(`${test.preset} config test: ${test.steps.map(alternatives).join(", then ")}`);
  if (manager === "direct" && test) {
    const reload = directReloadCommands(test.preset, action, config);
    steps.push(reload.length ? alternatives(reload) : `SIGUSR2 to the haproxy master (pid from the "pidfile" in ${config ?? "/etc/haproxy/haproxy.cfg"}, else /run/haproxy.pid; needs master-worker mode)`);
  } else if (manager === "systemd" || manager === "launchd") {
    steps.push(...serviceCommands({ manager, name, action }).map((argv) => argv.join(" ")));
  } else {
    steps.push(`${manager} ${action} ${name}`);
  }
  const use = !test ? ` (not used: only the ${PRESETS_TEXT} presets read it)` : manager === "direct" ? "" : " (for the config test; the service manager starts the server with its own arguments)";
  const note = config ? ` · config file ${config}${use}` : "";
  return `${steps.join(" → ")}${note}`;
}
