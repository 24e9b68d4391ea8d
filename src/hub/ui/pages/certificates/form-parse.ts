// From the posted certificate form (flat dotted names) to the rules' input, with a message
// per field for everything a user can get wrong. Each part is checked with the same wire
// schema the JSON API uses (src/protocol/certificates.ts), part by part, so an error names
// its field ("challenge.port", "deployments.1.directory") rather than a whole union.
import { z } from "zod";
import {
  DeploymentTaskSchema,
  defaultVerifyHost,
  Dns01ExecSchema,
  Dns01Rfc2136Schema,
  DomainSchema,
  Http01StandaloneSchema,
  Http01WebrootSchema,
  KEY_TYPES,
  type Challenge,
  type DeploymentTask,
} from "../../../../protocol/certificates";
import type { FieldErrors, FormValues } from "../../components";
import { zodFieldErrors } from "../../rule-errors";
import { tasksFromValues, type RawTask } from "./tasks";

export const CHALLENGE_KINDS = ["http-standalone", "http-webroot", "dns-rfc2136", "dns-exec"] as const;
export type ChallengeKind = (typeof CHALLENGE_KINDS)[number];

const str = (values: FormValues, name: string) => {
  const v = values[name];
  return ((Array.isArray(v) ? v[0] : v) ?? "").trim();
};

/** Domains typed one per line or as a comma/space separated list. */
export function splitDomains(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((d) => d.trim().toLowerCase()).filter(Boolean))];
}

/** A whole number from a box, or an error; "" is undefined (optional). */
function int(raw: string, field: string, errors: FieldErrors): number | undefined {
  if (raw === "") return undefined;
  if (!/^\d{1,9}$/.test(raw)) {
    errors[field] ??= "Enter a whole number.";
    return undefined;
  }
  return Number(raw);
}

function challengeOf(values: FormValues, errors: FieldErrors): Challenge | undefined {
  const kind = str(values, "challenge.kind") as ChallengeKind;
  const v = (n: string) => str(values, `challenge.${n}`);
  const propagationSeconds = int(v("propagationSeconds"), "challenge.propagationSeconds", errors);
  let schema: z.ZodType;
  let raw: Record<string, unknown>;
  switch (kind) {
    case "http-standalone":
      schema = Http01StandaloneSchema;
      raw = { type: "http-01", port: int(v("port"), "challenge.port", errors) ?? 80, ...(v("address") ? { address: v("address") } : {}) };
      break;
    case "http-webroot":
      schema = Http01WebrootSchema;
      raw = { type: "http-01", webroot: v("webroot") };
      if (!v("webroot")) errors["challenge.webroot"] = "Enter the web root directory (an absolute path).";
      break;
    case "dns-rfc2136":
      schema = Dns01Rfc2136Schema;
      raw = { type: "dns-01", provider: "rfc2136", server: v("server"), ...(v("zone") ? { zone: v("zone") } : {}), credentialId: v("credentialId"), ...(propagationSeconds !== undefined ? { propagationSeconds } : {}) };
      if (!v("server")) errors["challenge.server"] = "Enter the DNS server (host:port) that accepts dynamic updates.";
      if (!v("credentialId")) errors["challenge.credentialId"] = "Pick the TSIG key (a stored credential of type TSIG).";
      break;
    case "dns-exec":
      schema = Dns01ExecSchema;
      raw = { type: "dns-01", provider: "exec", command: v("command"), ...(propagationSeconds !== undefined ? { propagationSeconds } : {}) };
      if (!v("command")) errors["challenge.command"] = "Enter the hook's absolute path.";
      break;
    default:
      errors["challenge.kind"] = "Pick how the CA validates the domains.";
      return undefined;
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data as Challenge;
  for (const [k, m] of Object.entries(zodFieldErrors(r.error, "challenge."))) errors[k] ??= m;
  return undefined;
}

function taskOf(t: RawTask, i: number, errors: FieldErrors): DeploymentTask | undefined {
  const p = `deployments.${i}.`;
  const s = (n: string) => (t[n] ?? "").trim();
  const opt = (n: string) => (s(n) ? { [n]: s(n) } : {});
  const num = (n: string) => {
    const x = int(s(n), p + n, errors);
    return x === undefined ? {} : { [n]: x };
  };
  const common = { ...opt("name"), trigger: s("trigger") || "success", ...(t.continueOnError === "on" ? { continueOnError: true } : {}), ...num("retries"), ...num("retryDelaySeconds") };
  let raw: Record<string, unknown>;
  switch (t.type) {
    case "pem":
      raw = { type: "pem", directory: s("directory"), ...opt("mode"), ...opt("owner"), ...opt("group"), ...(t.combined === "on" ? { combined: true } : {}), ...common };
      break;
    case "pfx":
      raw = { type: "pfx", path: s("path"), passwordCredentialId: s("passwordCredentialId"), encoding: s("encoding") || "modern", ...opt("friendlyName"), ...opt("mode"), ...opt("owner"), ...opt("group"), ...common };
      if (!s("passwordCredentialId")) errors[`${p}passwordCredentialId`] = "Pick the password (a stored credential of type password).";
      break;
    case "script": {
      const args = (t.args ?? "").split(/\r?\n/).map((a) => a.trim()).filter(Boolean);
      raw = { type: "script", command: s("command"), ...(args.length ? { args } : {}), ...num("timeoutSeconds"), ...common };
      break;
    }
    case "service":
      // The service's unit/label is the task's name.
      raw = { ...common, type: "service", manager: s("manager"), name: s("name"), action: s("action") || "reload", ...opt("config") };
      if (!s("name")) errors[`${p}name`] = "Enter the service (e.g. nginx.service).";
      break;
    case "webhook":
      raw = { type: "webhook", url: s("url"), ...opt("secretCredentialId"), ...num("timeoutSeconds"), ...common };
      break;
    case "wait":
      raw = { type: "wait", ...num("seconds"), ...common };
      if (!s("seconds")) errors[`${p}seconds`] = "Enter how many seconds to wait (1–600).";
      break;
    default:
      errors[`deployments.${i}`] = "Unknown task type.";
      return undefined;
  }
  const r = DeploymentTaskSchema.safeParse(raw);
  if (r.success) return r.data;
  for (const [k, m] of Object.entries(zodFieldErrors(r.error, p))) errors[k] ??= friendly(k, m);
  return undefined;
}

/** Wire-schema wording → what an admin can act on. */
function friendly(field: string, message: string): string {
  if (/must be an absolute path/i.test(message)) return "Enter an absolute path (starting with /).";
  if (field.endsWith(".url")) return "Enter an http(s) URL.";
  if (/expected string, received undefined|Too small/i.test(message)) return "Required.";
  return message;
}

export interface ParsedCertificate {
  instanceId: string;
  name: string;
  domains: string[];
  keyType?: (typeof KEY_TYPES)[number];
  caAccountId: string;
  challenge: Challenge;
  deployments: DeploymentTask[];
  verify: { host: string; port: number } | null;
  renewal: { daysBeforeExpiry?: number; lifetimePercent?: number } | null;
  preferredChain: string | null;
  profile: string | null;
}

/** The whole form, or the errors by field. */
export function parseCertificateForm(values: FormValues): { ok: true; data: ParsedCertificate } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const instanceId = str(values, "instanceId");
  if (!instanceId) errors.instanceId = "Pick the target instance.";
  const name = str(values, "name");
  if (!name) errors.name = "Enter a name (e.g. the main domain).";
  else if (name.length > 255) errors.name = "At most 255 characters.";
  const domains = splitDomains(str(values, "domains"));
  if (!domains.length) errors.domains = "Enter at least one domain.";
  else if (domains.length > 100) errors.domains = "At most 100 domains per certificate.";
  else {
    const bad = domains.filter((d) => !DomainSchema.safeParse(d).success);
    if (bad.length) errors.domains = `Not a valid domain name: ${bad.slice(0, 3).join(", ")}${bad.length > 3 ? "…" : ""}.`;
  }
  const keyType = str(values, "keyType");
  if (keyType && !(KEY_TYPES as readonly string[]).includes(keyType)) errors.keyType = "Pick a key type.";
  const caAccountId = str(values, "caAccountId");
  if (!caAccountId) errors.caAccountId = instanceId ? "Pick a CA account (add one under Settings › Certificate Authorities)." : "Pick the target instance first, then its CA account.";
  const challenge = challengeOf(values, errors);
  const deployments = tasksFromValues(values).flatMap((t, i) => taskOf(t, i, errors) ?? []);
  const verifyHost = str(values, "verify.host");
  const verifyPort = int(str(values, "verify.port"), "verify.port", errors);
  // A port without a host checks the first domain that is not a wildcard (the agent's default).
  if (!verifyHost && verifyPort !== undefined && domains.length && !defaultVerifyHost(domains)) errors["verify.host"] = "Every domain is a wildcard: enter the host to check.";
  if (verifyPort !== undefined && (verifyPort < 1 || verifyPort > 65535)) errors["verify.port"] = "A port from 1 to 65535.";
  if (verifyHost.length > 253) errors["verify.host"] = "At most 253 characters.";
  const preferredChain = str(values, "preferredChain");
  const profile = str(values, "profile");
  if (profile.length > 64) errors.profile = "At most 64 characters.";
  const days = int(str(values, "renewal.daysBeforeExpiry"), "renewal.daysBeforeExpiry", errors);
  const percent = int(str(values, "renewal.lifetimePercent"), "renewal.lifetimePercent", errors);
  if (days !== undefined && (days < 1 || days > 365)) errors["renewal.daysBeforeExpiry"] = "Between 1 and 365 days, or leave it empty.";
  if (percent !== undefined && (percent < 10 || percent > 95)) errors["renewal.lifetimePercent"] = "Between 10 and 95 %, or leave it empty.";
  if (Object.keys(errors).length || !challenge) return { ok: false, errors };
  const renewal = days !== undefined || percent !== undefined ? { ...(days !== undefined ? { daysBeforeExpiry: days } : {}), ...(percent !== undefined ? { lifetimePercent: percent } : {}) } : null;
  return {
    ok: true,
    data: {
      instanceId,
      name,
      domains,
      ...(keyType ? { keyType: keyType as ParsedCertificate["keyType"] } : {}),
      caAccountId,
      challenge,
      deployments,
      verify: verifyHost || verifyPort !== undefined ? { host: verifyHost, port: verifyPort ?? 443 } : null,
      renewal,
      preferredChain: preferredChain || null,
      profile: profile || null,
    },
  };
}

/** A stored definition as flat form values (for the edit form). */
export function valuesOfDefinition(d: {
  instanceId: string;
  name: string;
  domains: string[];
  keyType: string;
  caAccountId: string;
  challenge: Record<string, unknown>;
  deployments: Record<string, unknown>[];
  verify: { host: string; port: number } | null;
  renewal?: Record<string, unknown> | null;
  preferredChain: string | null;
  profile?: string | null;
}): FormValues {
  const v: FormValues = { instanceId: d.instanceId, name: d.name, domains: d.domains.join("\n"), keyType: d.keyType, caAccountId: d.caAccountId, preferredChain: d.preferredChain ?? "", profile: d.profile ?? "" };
  for (const k of ["daysBeforeExpiry", "lifetimePercent"]) if (typeof d.renewal?.[k] === "number") v[`renewal.${k}`] = String(d.renewal[k]);
  const ch = d.challenge;
  const kind: ChallengeKind = ch.type === "dns-01" ? (ch.provider === "exec" ? "dns-exec" : "dns-rfc2136") : ch.webroot ? "http-webroot" : "http-standalone";
  v["challenge.kind"] = kind;
  for (const [k, x] of Object.entries(ch)) if (k !== "type" && k !== "provider" && x !== undefined && x !== null) v[`challenge.${k}`] = String(x);
  d.deployments.forEach((t, i) => {
    for (const [k, x] of Object.entries(t)) {
      if (x === undefined || x === null || k === "lastResult") continue;
      if (k === "args" && Array.isArray(x)) v[`deployments.${i}.args`] = x.join("\n");
      else if (k === "continueOnError" || k === "combined") v[`deployments.${i}.${k}`] = x ? "on" : "";
      else v[`deployments.${i}.${k}`] = String(x);
    }
  });
  if (d.verify) {
    v["verify.host"] = d.verify.host;
    v["verify.port"] = String(d.verify.port);
  }
  return v;
}
