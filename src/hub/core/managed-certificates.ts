// Managed certificates: definitions an admin makes for one instance, which its agent obtains
// over ACME, renews and deploys. Rules: valid domains, wildcards only with dns-01, the CA
// account and every named credential must exist and be available to the instance (its
// scopes), the instance must exist and not be revoked or cut off; every edit bumps the
// revision. Renew / test / deploy queue a command for the agent (202).
import { z } from "zod";
import { audit, type Actor } from "../../db/audit";
import { accountRegistration } from "../../db/agent-reports";
import { getCaAccount } from "../../db/ca-accounts";
import { MANAGED_ID_PREFIX, deleteCertificateReport, getCertificateReport, insertPendingCertificate, refreshPendingCertificate, type CertificateRow } from "../../db/certificates";
import { getCredentialsMeta } from "../../db/credentials";
import { getInstanceView } from "../../db/instances";
import {
  deleteManagedCertificateRow,
  getManagedCertificate,
  insertManagedCertificate,
  listManagedCertificates,
  managedCertificateByInstance,
  updateManagedCertificateRow,
  type ManagedCertificateRow,
} from "../../db/managed-certificates";
import { newId } from "../../lib/ids";
import {
  CertificateCommandPayloadSchema,
  ChallengeSchema,
  DeploymentTaskSchema,
  DomainSchema,
  KeyTypeSchema,
  RenewalPolicySchema,
  RenewNowPayloadSchema,
  TestTaskPayloadSchema,
  VerifySchema,
  defaultVerifyHost,
  type Challenge,
  type DeploymentTask,
  type ManagedCertificateSpec,
} from "../../protocol/certificates";
import type { CommandType } from "../../protocol";
import type { CoreDeps } from "./deps";
import { badRequest, conflict, notFound, parseOr400 } from "./errors";
import { appliesTo, describeScope } from "./scope";
import { queueCommand } from "./instances";
import { effectiveValues } from "./settings";

const definitionFields = {
  name: z.string().trim().min(1).max(255),
  domains: z.array(DomainSchema).min(1, "at least one domain").max(100),
  caAccountId: z.string().min(1).max(64),
  keyType: KeyTypeSchema.optional(),
  challenge: ChallengeSchema,
  deployments: z.array(DeploymentTaskSchema).max(32).optional(),
  verify: VerifySchema.nullable().optional(),
  renewal: RenewalPolicySchema.nullable().optional(),
  preferredChain: z.string().trim().max(255).nullable().optional(),
  profile: z.string().trim().max(64).nullable().optional(),
};

export const CreateManagedCertificateSchema = z.object({ instanceId: z.string().min(1).max(64), ...definitionFields }).strict();
export type CreateManagedCertificateInput = z.infer<typeof CreateManagedCertificateSchema>;

/** PUT: the fields given replace the stored ones (instanceId cannot change). */
export const UpdateManagedCertificateSchema = z
  .object({
    instanceId: z.string().min(1).max(64).optional(),
    name: definitionFields.name.optional(),
    domains: definitionFields.domains.optional(),
    caAccountId: definitionFields.caAccountId.optional(),
    keyType: KeyTypeSchema.optional(),
    challenge: ChallengeSchema.optional(),
    deployments: definitionFields.deployments,
    verify: definitionFields.verify,
    renewal: definitionFields.renewal,
    preferredChain: definitionFields.preferredChain,
    profile: definitionFields.profile,
  })
  .strict();
export type UpdateManagedCertificateInput = z.infer<typeof UpdateManagedCertificateSchema>;

interface UsableInstance {
  id: string;
  hostname: string;
  groupName: string | null;
}

/** The instance exists and may receive work: not revoked, not cut off with its joining key. */
export async function usableInstance(core: Pick<CoreDeps, "db">, id: string, notFoundAs: "404" | "400" = "404"): Promise<UsableInstance> {
  const row = await getInstanceView(core.db, id);
  if (!row) throw notFoundAs === "404" ? notFound(`instance ${id} not found`) : badRequest(`no instance with id ${id}`, "instanceId");
  const i = row.instance;
  if (i.state === "revoked") throw conflict(`instance ${i.hostname} (${i.id}) is revoked; reinstate it first`, "instanceId");
  if (row.keyState === "revoked") throw conflict(`instance ${i.hostname} (${i.id}) is cut off: its joining key ${row.keyClientId ?? ""} was revoked`, "instanceId");
  return { id: i.id, hostname: i.hostname, groupName: i.groupName };
}

/** Credential ids named by the challenge and the deployment tasks, with the types each accepts. */
function credentialRefs(challenge: Challenge, deployments: DeploymentTask[]) {
  const refs: { id: string; field: string; types: string[] }[] = [];
  if (challenge.type === "dns-01" && challenge.provider === "rfc2136") refs.push({ id: challenge.credentialId, field: "challenge.credentialId", types: ["tsig"] });
  deployments.forEach((d, i) => {
    if (d.type === "pfx") refs.push({ id: d.passwordCredentialId, field: `deployments.${i}.passwordCredentialId`, types: ["password"] });
    if (d.type === "webhook" && d.secretCredentialId) refs.push({ id: d.secretCredentialId, field: `deployments.${i}.secretCredentialId`, types: ["api-token", "password"] });
  });
  return refs;
}

interface Definition {
  name: string;
  domains: string[];
  caAccountId: string;
  keyType: ManagedCertificateSpec["keyType"];
  challenge: Challenge;
  deployments: DeploymentTask[];
  verify: { host: string; port: number } | null;
  renewal: Record<string, unknown> | null;
  preferredChain: string | null;
  profile: string | null;
}

/** Checks a whole definition against the instance; returns the credential ids it names. */
async function checkDefinition(core: Pick<CoreDeps, "db">, inst: UsableInstance, d: Definition): Promise<string[]> {
  const wildcard = d.domains.find((x) => x.startsWith("*."));
  if (wildcard && d.challenge.type !== "dns-01") {
    throw badRequest(`${wildcard}: a wildcard name can only be validated with a dns-01 challenge (the CA does not accept http-01 for wildcards)`, "challenge");
  }
  // No host means "the first domain that is not a wildcard" (what the agent checks): there must be one.
  if (d.verify && !d.verify.host && !defaultVerifyHost(d.domains)) {
    throw badRequest("verify.host: every domain is a wildcard: give the host to check", "verify.host");
  }
  const ca = await getCaAccount(core.db, d.caAccountId);
  if (!ca) throw badRequest(`no CA account with id ${d.caAccountId}`, "caAccountId");
  if (!appliesTo(ca, inst)) throw badRequest(`CA account "${ca.title}" is defined for ${describeScope(ca)}, not available to instance ${inst.hostname}`, "caAccountId");
  const refs = credentialRefs(d.challenge, d.deployments);
  const found = new Map((await getCredentialsMeta(core.db, refs.map((r) => r.id))).map((c) => [c.id, c]));
  for (const r of refs) {
    const c = found.get(r.id);
    if (!c) throw badRequest(`${r.field}: no stored credential with id ${r.id}`, r.field);
    if (!appliesTo(c, inst)) throw badRequest(`${r.field}: credential "${c.title}" is defined for ${describeScope(c)}, not available to instance ${inst.hostname}`, r.field);
    if (!r.types.includes(c.type)) throw badRequest(`${r.field}: credential "${c.title}" is of type ${c.type}; this needs ${r.types.join(" or ")}`, r.field);
  }
  return [...new Set(refs.map((r) => r.id))];
}

export function toSpec(row: ManagedCertificateRow): ManagedCertificateSpec {
  return {
    id: row.id,
    name: row.name,
    domains: row.domains,
    caAccountId: row.caAccountId,
    keyType: row.keyType as ManagedCertificateSpec["keyType"],
    challenge: row.challenge as Challenge,
    deployments: row.deployments as DeploymentTask[],
    verify: (row.verify as ManagedCertificateSpec["verify"]) ?? null,
    renewal: (row.renewal as ManagedCertificateSpec["renewal"]) ?? undefined,
    preferredChain: row.preferredChain ?? undefined,
    profile: row.profile ?? undefined,
    revision: row.revision,
  };
}

type Detail = { attempts?: { at: number }[]; deployments?: { index: number; type?: string; lastResult: unknown; lastTest?: unknown }[] };

/** Definition + the agent's last report (status "pending" until the first one). */
export function managedCertificateView(row: ManagedCertificateRow, report?: CertificateRow, registration?: { status: string; message: string | null; accountUrl: string | null; at: number }) {
  const detail = (report?.detail ?? {}) as Detail;
  const results = new Map((detail.deployments ?? []).map((d) => [d.index, d]));
  // A result belongs to the task at its index only while that task has the same type (an edit
  // that reorders tasks must not show one task's output under another).
  const resultOf = (d: DeploymentTask, i: number) => {
    const r = results.get(i);
    return r && (r.type === undefined || r.type === d.type) ? r : undefined;
  };
  return {
    id: row.id,
    instanceId: row.instanceId,
    name: row.name,
    domains: row.domains,
    caAccountId: row.caAccountId,
    keyType: row.keyType,
    challenge: row.challenge,
    deployments: (row.deployments as DeploymentTask[]).map((d, i) => ({ ...d, lastResult: resultOf(d, i)?.lastResult ?? null, lastTest: resultOf(d, i)?.lastTest ?? null })),
    verify: row.verify ?? null,
    renewal: row.renewal ?? null,
    preferredChain: row.preferredChain,
    profile: row.profile,
    revision: row.revision,
    source: "managed" as const,
    status: report?.status ?? "pending",
    serial: report?.serial ?? null,
    issuer: report?.issuer ?? null,
    notBefore: report?.notBefore ?? null,
    notAfter: report?.notAfter ?? null,
    nextRenewalAt: report?.nextRenewalAt ?? null,
    renewalReason: report?.renewalReason ?? null,
    failureCount: report?.failureCount ?? 0,
    lastError: report?.lastError ?? null,
    attempts: [...(detail.attempts ?? [])].sort((a, b) => b.at - a.at),
    served: row.verify ? (report?.served ?? null) : null,
    reportedRevision: report?.revision ?? null,
    reportedAt: report && report.status !== "pending" ? report.updatedAt : null,
    accountRegistration: registration ? { status: registration.status, message: registration.message, accountUrl: registration.accountUrl, at: registration.at } : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

async function changed(core: CoreDeps, instanceId: string) {
  await core.fleet.settingsChanged({ instanceId });
}

export async function createManagedCertificate(core: CoreDeps, actor: Actor, input: CreateManagedCertificateInput) {
  const inst = await usableInstance(core, input.instanceId, "400");
  const defaults = await effectiveValues(core, inst);
  const def: Definition = {
    name: input.name,
    domains: [...new Set(input.domains)],
    caAccountId: input.caAccountId,
    keyType: input.keyType ?? (defaults.defaultKeyType as Definition["keyType"]),
    challenge: input.challenge,
    deployments: input.deployments ?? [],
    verify: input.verify ?? null,
    renewal: input.renewal ?? null,
    preferredChain: input.preferredChain || null,
    profile: input.profile || null,
  };
  const credentialIds = await checkDefinition(core, inst, def);
  const now = Date.now();
  const row: ManagedCertificateRow = { id: newId(MANAGED_ID_PREFIX), instanceId: inst.id, ...def, credentialIds, revision: 1, createdAt: now, updatedAt: now };
  await insertManagedCertificate(core.db, row);
  await insertPendingCertificate(core.db, inst.id, row);
  await audit(core.db, actor, "certificate.create", { type: "certificate", id: row.id }, { instanceId: inst.id, name: row.name, domains: row.domains });
  await changed(core, inst.id);
  return managedCertificateView(row);
}

async function existing(core: Pick<CoreDeps, "db">, id: string) {
  const row = await getManagedCertificate(core.db, id);
  if (!row) throw notFound(`no managed certificate with id ${id}`);
  return row;
}

export async function updateManagedCertificate(core: CoreDeps, actor: Actor, id: string, input: UpdateManagedCertificateInput) {
  const row = await existing(core, id);
  if (input.instanceId !== undefined && input.instanceId !== row.instanceId) {
    throw badRequest("instanceId cannot change: delete the certificate and define it on the other instance", "instanceId");
  }
  const inst = await usableInstance(core, row.instanceId);
  const def: Definition = {
    name: input.name ?? row.name,
    domains: input.domains ? [...new Set(input.domains)] : row.domains,
    caAccountId: input.caAccountId ?? row.caAccountId,
    keyType: input.keyType ?? (row.keyType as Definition["keyType"]),
    challenge: input.challenge ?? (row.challenge as Challenge),
    deployments: input.deployments ?? (row.deployments as DeploymentTask[]),
    verify: input.verify !== undefined ? input.verify : (row.verify ?? null),
    renewal: input.renewal !== undefined ? input.renewal : (row.renewal ?? null),
    preferredChain: input.preferredChain !== undefined ? input.preferredChain || null : row.preferredChain,
    profile: input.profile !== undefined ? input.profile || null : row.profile,
  };
  const credentialIds = await checkDefinition(core, inst, def);
  const revision = row.revision + 1;
  await updateManagedCertificateRow(core.db, id, { ...def, credentialIds, revision });
  await refreshPendingCertificate(core.db, row.instanceId, { id, ...def });
  await audit(core.db, actor, "certificate.update", { type: "certificate", id }, { instanceId: row.instanceId, revision, fields: Object.keys(input) });
  await changed(core, row.instanceId);
  return getManagedCertificateDetail(core, id);
}

export async function deleteManagedCertificate(core: CoreDeps, actor: Actor, id: string) {
  const row = await existing(core, id);
  await deleteManagedCertificateRow(core.db, id);
  await deleteCertificateReport(core.db, row.instanceId, id);
  await audit(core.db, actor, "certificate.delete", { type: "certificate", id }, { instanceId: row.instanceId, name: row.name });
  await changed(core, row.instanceId);
}

export async function getManagedCertificateDetail(core: Pick<CoreDeps, "db">, id: string) {
  const row = await existing(core, id);
  const [report, registration] = await Promise.all([getCertificateReport(core.db, row.instanceId, id), accountRegistration(core.db, row.instanceId, row.caAccountId)]);
  return managedCertificateView(row, report, registration);
}

export async function listManagedCertificateViews(core: Pick<CoreDeps, "db">, o: { instanceId?: string; limit?: number; offset?: number } = {}) {
  return (await listManagedCertificates(core.db, o)).map((r) => managedCertificateView(r.def, r.report ?? undefined));
}

const CERTIFICATE_COMMANDS: ReadonlySet<string> = new Set(["renew-certificate", "test-certificate", "deploy-certificate"]);

/**
 * Payload rule for commands queued by type (the generic commands endpoint): a per-certificate
 * command must name a certificate defined on that instance; renew-now may name one.
 */
export async function checkCommandPayload(core: Pick<CoreDeps, "db">, instanceId: string, type: CommandType, payload: unknown) {
  const named = CERTIFICATE_COMMANDS.has(type)
    ? parseOr400(CertificateCommandPayloadSchema.strict(), payload ?? {}, `payload for ${type}`).certificateId
    : type === "renew-now"
      ? parseOr400(RenewNowPayloadSchema, payload ?? {}, "payload for renew-now").certificateId
      : undefined;
  if (type === "test-task") {
    const p = parseOr400(TestTaskPayloadSchema, payload ?? {}, "payload for test-task");
    const row = await managedCertificateByInstance(core.db, instanceId, p.certificateId);
    if (!row) throw badRequest(`payload.certificateId: no managed certificate ${p.certificateId} on instance ${instanceId}`, "payload.certificateId");
    checkTaskIndex(row.deployments as DeploymentTask[], p.index, "payload.index");
    return;
  }
  if (named && !(await managedCertificateByInstance(core.db, instanceId, named))) {
    throw badRequest(`payload.certificateId: no managed certificate ${named} on instance ${instanceId}`, "payload.certificateId");
  }
}

function checkTaskIndex(tasks: DeploymentTask[], index: number, field: string) {
  if (!Number.isInteger(index) || index < 0 || index >= tasks.length) {
    throw tasks.length ? notFound(`no deployment task ${index} on this certificate (it has ${tasks.length}, numbered from 0)`) : badRequest("this certificate has no deployment tasks to test", field);
  }
}

/** "Test task": the agent runs the task at `index` alone with the current certificate (202). */
export async function queueTaskTest(core: CoreDeps, actor: Actor, id: string, index: number) {
  const row = await existing(core, id);
  checkTaskIndex(row.deployments as DeploymentTask[], index, "index");
  await usableInstance(core, row.instanceId);
  const cmd = await queueCommand(core, row.instanceId, "test-task", { certificateId: id, index }, actor);
  if (!cmd) throw notFound(`instance ${row.instanceId} not found`);
  return { commandId: cmd.id, seq: cmd.seq, type: "test-task" as const, status: "queued" as const, certificateId: id, index, instanceId: row.instanceId };
}

const ACTIONS = { renew: "renew-certificate", test: "test-certificate", deploy: "deploy-certificate" } as const satisfies Record<string, CommandType>;

/** Queues renew / test / deploy for the certificate's agent; the answer is 202 with the command. */
export async function queueCertificateAction(core: CoreDeps, actor: Actor, id: string, action: keyof typeof ACTIONS) {
  const row = await existing(core, id);
  await usableInstance(core, row.instanceId);
  const type = ACTIONS[action];
  const cmd = await queueCommand(core, row.instanceId, type, { certificateId: id }, actor);
  if (!cmd) throw notFound(`instance ${row.instanceId} not found`);
  return { commandId: cmd.id, seq: cmd.seq, type, status: "queued" as const, certificateId: id, instanceId: row.instanceId };
}
