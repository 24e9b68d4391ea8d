// `certhub keys create|list|revoke`: joining keys and API tokens from the command line.
import { listApiTokens, tokenView } from "../db/api-tokens";
import { CLI_ACTOR } from "../db/audit";
import { ROLE_IDS, type RoleId } from "../db/roles";
import { RuleError } from "../hub/core/errors";
import { changeTokenState, issueToken } from "../hub/core/tokens";
import { hubDbOptions, parseCli, parseDuration, UsageError } from "./args";
import { openHubForCli } from "./hub-db";

const USAGE = `usage:
  certhub keys create --title T [--group G] [--role managed-instance|administrator|readonly] [--expires 30d] [--max-uses N] [--json]
  certhub keys list [--json]
  certhub keys revoke <clientId> [--retire]`;

export async function runKeysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "create":
      return create(rest);
    case "list":
      return list(rest);
    case "revoke":
      return revoke(rest);
    default:
      console.error(USAGE);
      return 2;
  }
}

async function create(argv: string[]) {
  const { values } = parseCli(argv, {
    ...hubDbOptions,
    title: { type: "string" },
    group: { type: "string" },
    role: { type: "string", default: "managed-instance" },
    expires: { type: "string" },
    "max-uses": { type: "string" },
    json: { type: "boolean" },
  });
  if (!values.title) throw new UsageError(`--title is required\n${USAGE}`);
  if (!ROLE_IDS.includes(values.role as RoleId)) throw new UsageError(`--role must be one of ${ROLE_IDS.join(", ")}`);
  const maxUses = values["max-uses"] === undefined ? null : Number(values["max-uses"]);
  if (maxUses !== null && (!Number.isInteger(maxUses) || maxUses < 1)) throw new UsageError("--max-uses must be a positive integer");
  const expiresAt = values.expires ? Date.now() + parseDuration(values.expires) : null;

  const { db, close } = await openHubForCli(values);
  try {
    const t = await issueToken(db, { title: values.title, group: values.group, role: values.role as RoleId, expiresAt, maxUses }, CLI_ACTOR);
    if (values.json) {
      console.log(JSON.stringify({ clientId: t.clientId, secret: t.secret }));
    } else {
      console.log(`Created "${t.title}" (role ${t.role}${t.group ? `, group ${t.group}` : ""})`);
      console.log(`  Client ID: ${t.clientId}`);
      console.log(`  Secret:    ${t.secret}   (shown once; stored only as a hash)`);
      if (t.role === "managed-instance") {
        console.log(`\nJoin an agent:  certhub hub join <hub url> ${t.clientId} ${t.secret}`);
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof RuleError) {
      console.error(`certhub: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    close();
  }
}

async function list(argv: string[]) {
  const { values } = parseCli(argv, { ...hubDbOptions, json: { type: "boolean" } });
  const { db, close } = await openHubForCli(values);
  try {
    const { rows } = await listApiTokens(db, { limit: 200 });
    const views = rows.map((r) => tokenView(r));
    if (values.json) {
      console.log(JSON.stringify(views, null, 2));
      return 0;
    }
    if (!views.length) {
      console.log("No API tokens. Create one with: certhub keys create --title T");
      return 0;
    }
    const fmt = (ms: number | null) => (ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : "-");
    const table = [["CLIENT ID", "TITLE", "ROLE", "GROUP", "STATUS", "USES", "EXPIRES", "LAST USED"]];
    for (const v of views) {
      table.push([v.clientId, v.title, v.role, v.group ?? "-", v.status, `${v.useCount}${v.maxUses ? `/${v.maxUses}` : ""}`, fmt(v.expiresAt), fmt(v.lastUsedAt)]);
    }
    const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
    for (const r of table) console.log(r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    return 0;
  } finally {
    close();
  }
}

async function revoke(argv: string[]) {
  const { values, positionals } = parseCli(argv, { ...hubDbOptions, retire: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError(`revoke takes exactly one client id\n${USAGE}`);
  const { db, close } = await openHubForCli(values);
  try {
    const state = values.retire ? "retired" : "revoked";
    const t = await changeTokenState(db, positionals[0], state, CLI_ACTOR);
    if (!t) {
      console.error(`certhub: no API token with client id "${positionals[0]}"`);
      return 1;
    }
    console.log(
      state === "revoked"
        ? `Revoked ${t.clientId} ("${t.title}"): it and every instance joined with it lose hub access.`
        : `Retired ${t.clientId} ("${t.title}"): no new joins; instances joined with it keep working.`,
    );
    return 0;
  } finally {
    close();
  }
}
