// Managing security principals (users and applications/services): shared by the JSON API,
// the Users page and the CLI, so the rules (self-lockout, password length, audit) live once.
import { z } from "zod";
import { audit, type Actor } from "../../db/audit";
import type { HubDb } from "../../db/client";
import { createPrincipal, createUser, findUserByUsername, getPrincipal, setPassword, updatePrincipal } from "../../db/principals";
import { ROLE, ROLE_IDS, setRoles } from "../../db/roles";
import { deleteSessionsOf } from "../../db/sessions";
import { badRequest } from "./errors";

export const MIN_PASSWORD_LENGTH = 12;
const password = z.string().min(MIN_PASSWORD_LENGTH, `password must be at least ${MIN_PASSWORD_LENGTH} characters`).max(1000);

export const createPrincipalSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("user"),
    username: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9._@-]+$/, "username may contain letters, digits and . _ @ -"),
    password,
    title: z.string().trim().max(100).optional(),
    email: z.email().max(200).optional().nullable(),
    roles: z.array(z.enum(ROLE_IDS)).max(3).default([ROLE.readonly]),
  }),
  z.object({
    type: z.literal("service"),
    title: z.string().trim().min(1).max(100),
    description: z.string().trim().max(500).optional(),
    roles: z.array(z.enum(ROLE_IDS)).max(3).default([]),
  }),
]);

export const updatePrincipalSchema = z
  .object({
    title: z.string().trim().min(1).max(100),
    description: z.string().trim().max(500),
    email: z.email().max(200).nullable(),
    disabled: z.boolean(),
  })
  .partial();

export async function addPrincipal(db: HubDb, raw: z.input<typeof createPrincipalSchema>, actor: Actor) {
  const input = createPrincipalSchema.parse(raw);
  let id: string;
  if (input.type === "user") {
    const taken = () => badRequest("this username is taken", "username");
    if (await findUserByUsername(db, input.username)) throw taken();
    try {
      id = await createUser(db, { username: input.username, password: input.password, title: input.title || input.username, email: input.email, roles: input.roles });
    } catch (err) {
      // Two requests for the same name at once both pass the check above; the unique index decides.
      if (/UNIQUE constraint failed: users\.|users_username_uq/.test(`${err}${(err as { cause?: unknown }).cause ?? ""}`)) throw taken();
      throw err;
    }
  } else {
    id = await createPrincipal(db, { type: "service", title: input.title, description: input.description, roles: input.roles });
  }
  await audit(db, actor, "principal.create", { type: "principal", id }, { type: input.type, title: input.type === "user" ? input.username : input.title, roles: input.roles });
  return id;
}

export async function editPrincipal(db: HubDb, id: string, raw: z.input<typeof updatePrincipalSchema>, actor: Actor) {
  const patch = updatePrincipalSchema.parse(raw);
  const p = await getPrincipal(db, id);
  if (!p) return false;
  if (patch.disabled && id === actor.id) throw badRequest("you cannot disable your own account", "disabled");
  await updatePrincipal(db, id, patch);
  if (patch.disabled) await deleteSessionsOf(db, id); // a disabled user is signed out everywhere at once
  await audit(db, actor, "principal.update", { type: "principal", id }, patch);
  return true;
}

export async function assignRoles(db: HubDb, id: string, roles: z.infer<typeof rolesSchema>, actor: Actor) {
  const p = await getPrincipal(db, id);
  if (!p) return false;
  if (id === actor.id && !roles.includes(ROLE.administrator) && p.roles.includes(ROLE.administrator)) {
    throw badRequest("you cannot remove your own administrator role", "roles");
  }
  await setRoles(db, id, roles);
  await audit(db, actor, "principal.roles", { type: "principal", id }, { before: p.roles, after: roles });
  return true;
}
export const rolesSchema = z.array(z.enum(ROLE_IDS)).max(ROLE_IDS.length);

export async function resetPassword(db: HubDb, id: string, newPassword: string, actor: Actor) {
  const pw = password.parse(newPassword);
  const p = await getPrincipal(db, id);
  if (!p || p.type !== "user") return false;
  await setPassword(db, id, pw);
  await deleteSessionsOf(db, id);
  await audit(db, actor, "principal.password-reset", { type: "principal", id }, { username: p.username });
  return true;
}

/** "Sign out everywhere": ends every session of a principal at once. */
export async function endSessions(db: HubDb, id: string, actor: Actor) {
  const p = await getPrincipal(db, id);
  if (!p) return undefined;
  const ended = await deleteSessionsOf(db, id);
  await audit(db, actor, "principal.sessions-revoke", { type: "principal", id }, { username: p.username, ended });
  return ended;
}

/**
 * A signed-in user changes their own password: the current one must be given, and every
 * other session of theirs ends (the one making the change stays signed in).
 */
export async function changeOwnPassword(db: HubDb, principalId: string, current: string, next: string, keepSessionIdHash: string | undefined, actor: Actor) {
  const pw = password.parse(next);
  const p = await getPrincipal(db, principalId);
  if (!p || p.type !== "user" || !p.username) throw badRequest("only users have a password");
  const found = await findUserByUsername(db, p.username);
  if (!found || !(await Bun.password.verify(current, found.user.passwordHash))) {
    await audit(db, actor, "account.password-change", { type: "principal", id: principalId }, { reason: "wrong current password" }, "failure");
    throw badRequest("the current password is wrong", "current");
  }
  await setPassword(db, principalId, pw);
  const ended = await deleteSessionsOf(db, principalId, keepSessionIdHash);
  await audit(db, actor, "account.password-change", { type: "principal", id: principalId }, { otherSessionsEnded: ended });
}
