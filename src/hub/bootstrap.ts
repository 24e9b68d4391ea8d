// First start on an empty database: the admin user, the "Hub Managed Instance" service
// principal with its role, and the default "Instance Joining Key". Secrets are returned
// once for printing and stored only as hashes.
import { createApiToken } from "../db/api-tokens";
import { audit, SYSTEM_ACTOR } from "../db/audit";
import type { HubDb } from "../db/client";
import { createPrincipal, createUser, findManagedInstancePrincipal, MANAGED_INSTANCE_PRINCIPAL_TITLE } from "../db/principals";
import { ensureBuiltInRoles, ROLE } from "../db/roles";
import { claimBootstrap, isBootstrapped as bootstrapClaimed, releaseBootstrap } from "../db/hub-meta";
import { randomToken } from "../lib/crypto";
import { joinCommands } from "./join-commands";

export const DEFAULT_JOINING_KEY_TITLE = "Instance Joining Key";

export interface BootstrapResult {
  admin: { username: string; password: string; generated: boolean };
  joiningKey: { clientId: string; secret: string };
}

/** True once a hub's first start has run on this database. */
export async function isBootstrapped(db: HubDb): Promise<boolean> {
  return bootstrapClaimed(db);
}

/** Creates the first-run objects exactly once; returns undefined when already done. */
export async function bootstrapHub(db: HubDb, env = process.env): Promise<BootstrapResult | undefined> {
  await ensureBuiltInRoles(db);
  // Claim the bootstrap atomically so two processes starting together cannot both run it.
  if (!(await claimBootstrap(db))) return undefined;
  try {
    const envPassword = env.CERTHUB_ADMIN_PASSWORD;
    const password = envPassword || randomToken(16);
    await createUser(db, { username: "admin", password, title: "Administrator", roles: [ROLE.administrator] });

    const principalId =
      (await findManagedInstancePrincipal(db))?.id ??
      (await createPrincipal(db, {
        type: "service",
        title: MANAGED_INSTANCE_PRINCIPAL_TITLE,
        description: "Principal for Management Hub Instance Joining",
        roles: [ROLE.managedInstance],
      }));
    const key = await createApiToken(db, {
      principalId,
      title: DEFAULT_JOINING_KEY_TITLE,
      roleId: ROLE.managedInstance,
      createdBy: "system",
    });
    await audit(db, SYSTEM_ACTOR, "hub.bootstrap", null, { adminUser: "admin", joiningKey: key.clientId });
    return { admin: { username: "admin", password, generated: !envPassword }, joiningKey: { clientId: key.clientId, secret: key.secret } };
  } catch (err) {
    await releaseBootstrap(db);
    throw err;
  }
}

/** The banner printed once on first start: credentials and ready-to-paste join commands. */
export function bootstrapBanner(result: BootstrapResult, hubUrl: string, fingerprint?: string): string {
  const { clientId, secret } = result.joiningKey;
  const cmds = joinCommands({ hubUrl, clientId, secret, fingerprint });
  const lines = [
    "",
    "==================== certhub first start ====================",
    result.admin.generated
      ? `Admin sign-in:   user "admin", password "${result.admin.password}"  (shown once; change it after signing in)`
      : `Admin sign-in:   user "admin", password from CERTHUB_ADMIN_PASSWORD`,
    `Joining key:     "${DEFAULT_JOINING_KEY_TITLE}"`,
    `  Client ID:     ${clientId}`,
    `  Secret:        ${secret}   (shown once; stored only as a hash)`,
    "",
    "Join an agent (on the host, with the agent running):",
    `  ${cmds.cli}`,
    "or with curl against the agent's local API (as root; otherwise the token is in ~/.local/share/certhub-agent):",
    `  ${cmds.curl}`,
    "=============================================================",
    "",
  ];
  return lines.join("\n");
}
