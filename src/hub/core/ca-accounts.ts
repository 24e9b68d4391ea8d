// ACME CA accounts: title, directory URL (presets or any https URL, e.g. a private step-ca),
// contact email, optional extra trusted roots for the CA's HTTPS endpoint, and an optional
// External Account Binding kept as a stored credential of type "eab". Each agent creates and
// registers its own account key; the hub only describes the account. An account can move to
// another scope (PATCH scope/scopeId) with its EAB credential, unless a certificate using it
// would no longer be in its scope.
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import { audit, type Actor } from "../../db/audit";
import { accountRegistrationsOf } from "../../db/agent-reports";
import {
  caAccountReferences,
  certificatesUsingCaAccount,
  deleteCaAccountRow,
  moveCaAccountRow,
  getCaAccount,
  insertCaAccount,
  listCaAccounts,
  updateCaAccount,
  type CaAccountRow,
} from "../../db/ca-accounts";
import { credentialReferences, deleteCredentialRow, getCredentialMeta, moveCredentialRow, sealedCredentialRow, updateCredential } from "../../db/credentials";
import { newId } from "../../lib/ids";
import { CredentialSecretSchemas } from "../../protocol/certificates";
import { referencesOf, refuseStranding, requestedScope, resealFor, sealSecret, storeNew, type Reference } from "./credentials";
import type { CoreDeps } from "./deps";
import { badRequest, conflict, notFound } from "./errors";
import { fleetTarget, resolveScope, scopeKey, ScopeInputSchema, scopeView, type InstanceScopeFacts, type Scope } from "./scope";

export interface CaPreset {
  id: string;
  title: string;
  directoryUrl: string;
  /** The CA refuses new accounts without External Account Binding. */
  eabRequired: boolean;
  staging: boolean;
}

export const CA_PRESETS: readonly CaPreset[] = [
  { id: "letsencrypt", title: "Let's Encrypt", directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", eabRequired: false, staging: false },
  { id: "letsencrypt-staging", title: "Let's Encrypt (staging)", directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory", eabRequired: false, staging: true },
  { id: "zerossl", title: "ZeroSSL", directoryUrl: "https://acme.zerossl.com/v2/DV90", eabRequired: true, staging: false },
  { id: "google", title: "Google Trust Services", directoryUrl: "https://dv.acme-v02.api.pki.goog/directory", eabRequired: true, staging: false },
  { id: "google-staging", title: "Google Trust Services (staging)", directoryUrl: "https://dv.acme-v02.test-api.pki.goog/directory", eabRequired: true, staging: true },
  { id: "buypass", title: "Buypass Go SSL", directoryUrl: "https://api.buypass.com/acme/directory", eabRequired: false, staging: false },
  { id: "buypass-staging", title: "Buypass Go SSL (test)", directoryUrl: "https://api.test4.buypass.no/acme/directory", eabRequired: false, staging: true },
];

const EabInputSchema = CredentialSecretSchemas.eab.extend({
  hmacKey: z.string().trim().min(1).max(1024).regex(/^[A-Za-z0-9_=+/-]+$/, "base64url, as the CA shows it"),
}).strict();

const accountFields = {
  title: z.string().trim().min(1).max(200),
  directoryUrl: z.string().trim().min(1).max(2048),
  email: z.union([z.literal(""), z.email().max(254)]).optional(),
  trustedRootsPem: z.string().max(64 * 1024).optional(),
  eab: EabInputSchema.optional(),
};

export const CreateCaAccountSchema = z
  .object({ ...accountFields, title: accountFields.title.optional(), directoryUrl: accountFields.directoryUrl.optional(), preset: z.string().max(64).optional() })
  .extend(ScopeInputSchema.shape)
  .strict();
export type CreateCaAccountInput = z.infer<typeof CreateCaAccountSchema>;

export const UpdateCaAccountSchema = z
  .object({
    title: accountFields.title.optional(),
    directoryUrl: accountFields.directoryUrl.optional(),
    email: accountFields.email.nullable(),
    trustedRootsPem: accountFields.trustedRootsPem.nullable(),
    eab: EabInputSchema.nullable().optional(),
  })
  .strict();
export type UpdateCaAccountInput = z.infer<typeof UpdateCaAccountSchema>;

/** PATCH: the fields of an update, plus a move to another scope ("scope", "scopeId"). */
export const PatchCaAccountSchema = UpdateCaAccountSchema.extend(ScopeInputSchema.partial().shape).strict();
export type PatchCaAccountInput = z.infer<typeof PatchCaAccountSchema>;

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** An ACME directory must be https; plain http only for a CA on the agent's own loopback. */
export function checkDirectoryUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest(`directoryUrl "${raw.slice(0, 200)}" is not a URL (expected https://…/directory)`, "directoryUrl");
  }
  if (url.protocol === "http:" && LOOPBACK.test(url.hostname)) return url.href;
  if (url.protocol !== "https:") throw badRequest(`directoryUrl must use https:// (got ${url.protocol.replace(/:$/, "")}://; plain http only for a loopback address)`, "directoryUrl");
  if (url.username || url.password) throw badRequest("directoryUrl must not carry a user name or password", "directoryUrl");
  return url.href;
}

/** One or more PEM certificates, nothing else (a private key pasted by mistake is refused). */
export function checkTrustedRoots(pem: string): string | null {
  const text = pem.trim();
  if (!text) return null;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw badRequest("trustedRootsPem contains a private key: paste only the CA's root certificate(s)", "trustedRootsPem");
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw badRequest("trustedRootsPem holds no PEM certificate (-----BEGIN CERTIFICATE-----)", "trustedRootsPem");
  const rest = blocks.reduce((t, b) => t.replace(b, ""), text).trim();
  if (rest) throw badRequest("trustedRootsPem has text outside its certificates", "trustedRootsPem");
  blocks.forEach((b, i) => {
    try {
      new X509Certificate(b);
    } catch {
      throw badRequest(`trustedRootsPem: certificate ${i + 1} cannot be parsed`, "trustedRootsPem");
    }
  });
  return blocks.join("\n") + "\n";
}

export function caAccountView(a: CaAccountRow) {
  return {
    id: a.id,
    title: a.title,
    directoryUrl: a.directoryUrl,
    preset: CA_PRESETS.find((p) => p.directoryUrl === a.directoryUrl)?.id ?? null,
    email: a.email,
    ...scopeView(a),
    trustedRootsPem: a.trustedRootsPem,
    // The key id and HMAC key are in the sealed credential; only its id is shown.
    eab: a.eabCredentialId ? { credentialId: a.eabCredentialId } : null,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

/** The account (and its EAB credential, same scope) changed: every instance of its scope is told. */
async function affected(core: CoreDeps, s: Scope) {
  await core.fleet.settingsChanged(fleetTarget(s), { scopes: [scopeKey({ scope: s.scope, scopeId: s.scopeId })] });
}

export async function createCaAccount(core: CoreDeps, actor: Actor, input: CreateCaAccountInput) {
  const preset = input.preset ? CA_PRESETS.find((p) => p.id === input.preset) : undefined;
  if (input.preset && !preset) throw badRequest(`unknown preset "${input.preset}" (known: ${CA_PRESETS.map((p) => p.id).join(", ")})`, "preset");
  const directoryUrl = checkDirectoryUrl(input.directoryUrl ?? preset?.directoryUrl ?? "");
  const title = input.title ?? preset?.title;
  if (!title) throw badRequest("title is required", "title");
  const trustedRootsPem = input.trustedRootsPem ? checkTrustedRoots(input.trustedRootsPem) : null;
  const s = await resolveScope(core.db, input);
  const id = newId("ca_");
  let eabCredentialId: string | null = null;
  if (input.eab) {
    eabCredentialId = newId("cred_");
    await storeNew(core, actor, { id: eabCredentialId, title: `EAB for ${title}`, type: "eab", ...s }, input.eab);
  }
  const now = Date.now();
  const row: CaAccountRow = { id, title, directoryUrl, email: input.email || null, ...s, trustedRootsPem, eabCredentialId, createdAt: now, updatedAt: now };
  await insertCaAccount(core.db, row);
  await audit(core.db, actor, "ca-account.create", { type: "ca-account", id }, { title, directoryUrl, ...scopeView(s), eab: !!eabCredentialId });
  await affected(core, s);
  return caAccountView(row);
}

export async function updateCaAccountRule(core: CoreDeps, actor: Actor, id: string, input: PatchCaAccountInput) {
  const a = await getCaAccount(core.db, id);
  if (!a) throw notFound(`no CA account with id ${id}`);
  const { scope: _s, scopeId: _i, ...fields } = input;
  const target = await requestedScope(core, input);
  if (target && scopeKey(target) !== scopeKey(a)) {
    // The move first (it may be refused: then nothing changed), then the other fields.
    await moveCaAccount(core, actor, a, target);
    if (!Object.keys(fields).length) return caAccountView((await getCaAccount(core.db, id))!);
    return updateCaAccountRule(core, actor, id, fields);
  }
  const patch: Partial<CaAccountRow> = {};
  if (input.title !== undefined) patch.title = input.title;
  if (input.directoryUrl !== undefined) patch.directoryUrl = checkDirectoryUrl(input.directoryUrl);
  if (input.email !== undefined) patch.email = input.email || null;
  if (input.trustedRootsPem !== undefined) patch.trustedRootsPem = input.trustedRootsPem ? checkTrustedRoots(input.trustedRootsPem) : null;
  let removeEab: string | null = null;
  if (input.eab === null && a.eabCredentialId) {
    patch.eabCredentialId = null;
    removeEab = a.eabCredentialId;
  } else if (input.eab) {
    const existing = a.eabCredentialId ? await getCredentialMeta(core.db, a.eabCredentialId) : undefined;
    if (existing) await updateCredential(core.db, existing.id, { ciphertext: sealSecret(core.secretKey, existing, "eab", input.eab) });
    else {
      patch.eabCredentialId = newId("cred_");
      await storeNew(core, actor, { id: patch.eabCredentialId, title: `EAB for ${patch.title ?? a.title}`, type: "eab", scope: a.scope, scopeId: a.scopeId }, input.eab);
    }
  }
  await updateCaAccount(core.db, id, patch);
  if (removeEab) await deleteCredentialRow(core.db, removeEab);
  await audit(core.db, actor, "ca-account.update", { type: "ca-account", id }, { fields: Object.keys(input) });
  await affected(core, a);
  return caAccountView((await getCaAccount(core.db, id))!);
}

/**
 * Moves a CA account and its EAB credential (same scope, re-sealed for it) to `target`, in one
 * transaction with the check that every certificate using either stays in scope.
 */
async function moveCaAccount(core: CoreDeps, actor: Actor, a: CaAccountRow, target: Scope) {
  const from: Scope = { scope: a.scope, scopeId: a.scopeId };
  await core.db.transaction(async (tx) => {
    const now = await getCaAccountIn(tx, a.id);
    if (scopeKey(now) !== scopeKey(from)) throw conflict(`CA account "${a.title}" was just moved by someone else: reload and try again`, "scope");
    const refs: Reference[] = (await caAccountReferences(tx, a.id)).map((c) => ({ kind: "certificate", id: c.id, name: c.name, instance: { id: c.instanceId, hostname: c.hostname, groupName: c.groupName } }));
    const eab = now.eabCredentialId ? await sealedCredentialRow(tx, now.eabCredentialId) : undefined;
    // Anything else naming its EAB credential (not made through the rules) must stay in scope too.
    if (eab) refs.push(...referencesOf(await credentialReferences(tx, eab.id)).filter((r) => r.kind === "certificate"));
    refuseStranding(`CA account "${a.title}"`, target, refs);
    if (!(await moveCaAccountRow(tx, a.id, from, target))) throw conflict(`CA account "${a.title}" changed while it was being moved: try again`, "scope");
    if (eab && !(await moveCredentialRow(tx, eab.id, eab, { ...target, ciphertext: resealFor(core.secretKey, eab, target) }))) {
      throw conflict(`the External Account Binding of CA account "${a.title}" changed while it was being moved: try again`, "scope");
    }
  });
  await audit(core.db, actor, "ca-account.move", { type: "ca-account", id: a.id }, { title: a.title, from: scopeView(from), to: scopeView(target), eab: !!a.eabCredentialId });
  // The account leaves the configs of the old scope's instances and joins the new scope's:
  // both parts are dropped first (here and in other hub processes), then both sets bumped.
  const scopes = [scopeKey(from), scopeKey(target)];
  if (from.scope === "global" || target.scope === "global") await core.fleet.settingsChanged("all", { scopes });
  else {
    await core.fleet.settingsChanged(fleetTarget(from), { scopes });
    await core.fleet.settingsChanged(fleetTarget(target));
  }
}

async function getCaAccountIn(tx: Parameters<typeof caAccountReferences>[0], id: string): Promise<CaAccountRow> {
  const row = await getCaAccount(tx, id);
  if (!row) throw notFound(`no CA account with id ${id}`);
  return row;
}

export async function deleteCaAccount(core: CoreDeps, actor: Actor, id: string) {
  const a = await getCaAccount(core.db, id);
  if (!a) throw notFound(`no CA account with id ${id}`);
  const users = await certificatesUsingCaAccount(core.db, id);
  if (users.length) {
    const names = users.slice(0, 5).map((u) => `"${u.name}" (${u.id}) on instance ${u.instanceId}`);
    throw conflict(`CA account "${a.title}" is still used by certificate${users.length > 1 ? "s" : ""} ${names.join(", ")}${users.length > 5 ? ` and ${users.length - 5} more` : ""}: move or delete them first`);
  }
  await deleteCaAccountRow(core.db, id);
  // Its EAB credential belongs to it alone.
  if (a.eabCredentialId) await deleteCredentialRow(core.db, a.eabCredentialId);
  await audit(core.db, actor, "ca-account.delete", { type: "ca-account", id }, { title: a.title });
  await affected(core, a);
}

export async function getCaAccountDetail(core: Pick<CoreDeps, "db">, id: string) {
  const a = await getCaAccount(core.db, id);
  if (!a) throw notFound(`no CA account with id ${id}`);
  const [certs, regs] = await Promise.all([certificatesUsingCaAccount(core.db, id), accountRegistrationsOf(core.db, { caAccountId: id })]);
  return {
    ...caAccountView(a),
    certificates: certs,
    registrations: regs.map((r) => ({ instanceId: r.instanceId, status: r.status, message: r.message, accountUrl: r.accountUrl, at: r.at })),
  };
}

export async function listCaAccountViews(core: Pick<CoreDeps, "db">, o: { scope?: Scope; instance?: InstanceScopeFacts } = {}) {
  return (await listCaAccounts(core.db, o)).map(caAccountView);
}
