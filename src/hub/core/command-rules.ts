// The one rule for queueing a command, used by the JSON API, the pages and the certificate
// actions alike (core/instances.ts queueCommand): the payload has the shape the agent will accept, and
// the instance can actually receive it — not revoked, not cut off with its joining key, and
// no run-script for a host whose admin did not allow scripts. Refusals are RuleErrors in
// words an admin can act on.
import { z } from "zod";
import type { Instance } from "../../db/instances";
import { CertificateCommandPayloadSchema, RenewNowPayloadSchema, TestTaskPayloadSchema } from "../../protocol/certificates";
import { COMMAND_TYPES, type CommandType } from "../../protocol";
import { badRequest, conflict, describeZodError } from "./errors";

/** Payload shapes, as the agent's handlers parse them (src/agent/commands/). */
const PAYLOADS: Record<CommandType, z.ZodType> = {
  ping: z.object({}).strict(),
  "renew-now": RenewNowPayloadSchema,
  "refresh-external-scan": z.object({}).strict(),
  "update-settings": z.object({ values: z.record(z.string().min(1).max(128), z.unknown()) }).strict(),
  "run-script": z.object({ script: z.string().min(1).max(64 * 1024), timeoutSeconds: z.number().int().min(1).max(3600).optional() }).strict(),
  "renew-certificate": CertificateCommandPayloadSchema.strict(),
  "test-certificate": CertificateCommandPayloadSchema.strict(),
  "deploy-certificate": CertificateCommandPayloadSchema.strict(),
  "test-task": TestTaskPayloadSchema,
};

/** What an admin types into the payload box for each command (shown as its placeholder). */
export const PAYLOAD_EXAMPLES: Partial<Record<CommandType, string>> = {
  "update-settings": '{"values": {"renewalDays": 30}}',
  "run-script": '{"script": "systemctl reload nginx"}',
};

export const SCRIPTS_DISABLED =
  "this host's agent reported that scripts are disabled: its host admin must start it with --allow-scripts " +
  '(or set "allowScripts": true in agent.json) before the hub can send run-script';

/** Why an instance cannot receive anything now, with the way back; null when it can. */
export function cutOffReason(i: Pick<Instance, "state">, key: { state: string | null; clientId: string | null; title?: string | null } | null): string | null {
  if (key?.state === "revoked") {
    return `cut off: its joining key ${key.title ? `"${key.title}" ` : ""}(${key.clientId ?? "deleted"}) was revoked, and a revoked key cannot be reinstated. ` +
      "To bring this host back, remove the instance here and join the agent again with another joining key.";
  }
  if (i.state === "revoked") return "revoked: reinstate it to give it hub access again";
  return null;
}

/** Throws the RuleError that refuses this command, or returns the parsed payload. */
export function checkCommand(
  inst: Pick<Instance, "state" | "allowScripts">,
  key: { state: string | null; clientId: string | null; title?: string | null } | null,
  type: string,
  payload: unknown,
): unknown {
  if (!(COMMAND_TYPES as readonly string[]).includes(type)) throw badRequest(`unknown command type "${type.slice(0, 40)}"`, "type");
  const parsed = PAYLOADS[type as CommandType].safeParse(payload ?? {});
  if (!parsed.success) throw badRequest(`the payload for ${type} is not right: ${describeZodError(parsed.error)}`, "payload");
  const cut = cutOffReason(inst, key);
  if (cut) throw conflict(inst.state === "revoked" && key?.state !== "revoked" ? "instance is revoked; reinstate it before queueing commands" : `instance is ${cut}`);
  if (type === "run-script" && inst.allowScripts === false) throw conflict(SCRIPTS_DISABLED, "type");
  return parsed.data;
}
