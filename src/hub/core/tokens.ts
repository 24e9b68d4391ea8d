// Issuing and revoking API tokens / joining keys: the one place that applies the rules
// (principal must hold the scoped role, expiry in the future, audit), shared by the
// JSON API, the API Access page and the `certhub keys` CLI.
import { z } from "zod";
import { createApiToken, getApiToken, getApiTokenByClientId, setApiTokenState } from "../../db/api-tokens";
import { audit, type Actor } from "../../db/audit";
import type { HubDb } from "../../db/client";
import { createPrincipal, findManagedInstancePrincipal, getPrincipal, listPrincipals, MANAGED_INSTANCE_PRINCIPAL_TITLE } from "../../db/principals";
import { ROLE, ROLE_IDS, type RoleId } from "../../db/roles";
import { badRequest } from "./errors";

export const AUTOMATION_PRINCIPAL_TITLE = "Automation";

export const issueTokenSchema = z.object({
  title: z.string().trim().min(1, "title is required").max(100),
  role: z.enum(ROLE_IDS).default(ROLE.managedInstance),
  principalId: z.string().min(1).max(64).optional(),
  group: z.string().trim().max(100).nullish().transform((g) => g || null),
  expiresAt: z.number().int().positive().optional().nullable(),
  maxUses: z.number().int().min(1).max(1_000_000).optional().nullable(),
});
export type IssueTokenInput = z.input<typeof issueTokenSchema>;

/** The principal a token belongs to when none is named: the shared one for its role. */
async function defaultPrincipal(db: HubDb, role: RoleId): Promise<string> {
  if (role === ROLE.managedInstance) {
    const p = await findManagedInstancePrincipal(db);
    if (p) return p.id;
    return createPrincipal(db, { type: "service", title: MANAGED_INSTANCE_PRINCIPAL_TITLE, roles: [ROLE.managedInstance] });
  }
  const { rows } = await listPrincipals(db, { type: "service", q: AUTOMATION_PRINCIPAL_TITLE, limit: 50 });
  const existing = rows.find((r) => r.title === AUTOMATION_PRINCIPAL_TITLE && r.roles.includes(role));
  if (existing) return existing.id;
  return createPrincipal(db, {
    type: "service",
    title: AUTOMATION_PRINCIPAL_TITLE,
    description: `API access with role ${role}`,
    roles: [role],
  });
}

export async function issueToken(db: HubDb, raw: IssueTokenInput, actor: Actor) {
  const input = issueTokenSchema.parse(raw);
  if (input.expiresAt && input.expiresAt <= Date.now()) throw badRequest("expiry must be in the future", "expiresAt");
  const principalId = input.principalId ?? (await defaultPrincipal(db, input.role));
  const principal = await getPrincipal(db, principalId);
  if (!principal) throw badRequest("no such principal", "principalId");
  if (principal.disabled) throw badRequest(`principal "${principal.title}" is disabled`, "principalId");
  if (!principal.roles.includes(input.role)) {
    throw badRequest(`principal "${principal.title}" does not hold the role "${input.role}"; assign it first`, "role");
  }
  const created = await createApiToken(db, {
    principalId,
    title: input.title,
    roleId: input.role,
    groupName: input.group,
    expiresAt: input.expiresAt ?? null,
    maxUses: input.maxUses ?? null,
    createdBy: actor.label,
  });
  await audit(db, actor, "token.create", { type: "token", id: created.clientId }, {
    title: input.title,
    role: input.role,
    group: input.group,
    expiresAt: input.expiresAt ?? null,
    maxUses: input.maxUses ?? null,
  });
  return { ...created, title: input.title, role: input.role, group: input.group, principalId };
}

/** Finds a token by client id or row id. */
export async function findToken(db: HubDb, idOrClientId: string) {
  return (await getApiTokenByClientId(db, idOrClientId)) ?? (await getApiToken(db, idOrClientId));
}

/** revoke: the key and every instance joined with it lose access; retire: no new joins. */
export async function changeTokenState(db: HubDb, idOrClientId: string, state: "revoked" | "retired", actor: Actor) {
  const token = await findToken(db, idOrClientId);
  if (!token) return undefined;
  if (token.state === "revoked") return token; // already final; nothing to do
  await setApiTokenState(db, token.id, state);
  await audit(db, actor, state === "revoked" ? "token.revoke" : "token.retire", { type: "token", id: token.clientId }, { title: token.title });
  return { ...token, state };
}
