// The one registry of setting keys. Hub forms, hub scope resolution (narrowest scope wins:
// instance > group > global > default) and the agent's typed accessor all read it; adding a
// setting is adding an entry here.
import { z } from "zod";
import { EXTERNAL_MANAGERS, KeyTypeSchema } from "./certificates";

export const SCOPES = ["global", "group", "instance"] as const;
export type ScopeKind = (typeof SCOPES)[number];

const ExternalManagerSettingSchema = z
  .object({
    enabled: z.boolean().default(true),
    configPath: z.string().min(1).max(1024).optional(),
    logPath: z.string().min(1).max(1024).optional(),
  })
  .strict();
export const ExternalManagersSettingSchema = z.partialRecord(z.enum(EXTERNAL_MANAGERS), ExternalManagerSettingSchema);
export type ExternalManagersSetting = z.infer<typeof ExternalManagersSettingSchema>;

export interface SettingDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  default: z.infer<S>;
  scopes: readonly ScopeKind[];
  label: string;
  help: string;
}

const def = <S extends z.ZodType>(d: SettingDef<S>) => d;

export const SETTINGS = {
  defaultKeyType: def({
    schema: KeyTypeSchema,
    default: "ecdsa-p256",
    scopes: SCOPES,
    label: "Default key type",
    help: "Key type of new certificates that do not name one.",
  }),
  renewalLifetimePercent: def({
    schema: z.number().int().min(10).max(95),
    default: 67,
    scopes: SCOPES,
    label: "Renew at % of lifetime",
    help: "Renew when this share of a certificate's lifetime has passed (67 % = 2/3). The CA's renewal window (ARI) wins when it publishes one.",
  }),
  renewalDaysBeforeExpiry: def({
    schema: z.number().int().min(0).max(365),
    default: 0,
    scopes: SCOPES,
    label: "Renew days before expiry",
    help: "When above 0: renew this many days before expiry instead of at a share of the lifetime.",
  }),
  defaultContactEmail: def({
    schema: z.string().max(254).regex(/^$|^[^\s@]+@[^\s@]+$/, "an email address"),
    default: "",
    scopes: SCOPES,
    label: "Default contact email",
    help: "Contact email for CA accounts that do not name one.",
  }),
  externalManagers: def({
    schema: ExternalManagersSettingSchema,
    default: {},
    scopes: SCOPES,
    label: "External certificate managers",
    help: "certbot, acme.sh, Posh-ACME, simple-acme and win-acme: enable each and override its paths. A client left out keeps its default (enabled, default paths).",
  }),
  externalScanIntervalMinutes: def({
    schema: z.number().int().min(1).max(1440),
    default: 15,
    scopes: SCOPES,
    label: "External scan interval (minutes)",
    help: "How often the agent rescans the external certificate managers; \"Refresh now\" scans at once.",
  }),
} as const satisfies Record<string, SettingDef>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];
export type SettingValues = { [K in SettingKey]: z.infer<(typeof SETTINGS)[K]["schema"]> };

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

/** Typed, validated view of raw values; an invalid or missing value falls back to the default. */
export function readSettings(raw: Record<string, unknown>): SettingValues {
  const out = {} as Record<string, unknown>;
  for (const key of SETTING_KEYS) {
    const d = SETTINGS[key];
    const parsed = raw[key] === undefined ? null : d.schema.safeParse(raw[key]);
    out[key] = parsed?.success ? parsed.data : d.default;
  }
  return out as SettingValues;
}
