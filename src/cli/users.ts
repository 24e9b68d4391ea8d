// `certhub users reset-password <username>`: recovery when an admin is locked out.
import { CLI_ACTOR } from "../db/audit";
import { findUserByUsername } from "../db/principals";
import { randomToken } from "../lib/crypto";
import { resetPassword } from "../hub/core/principals";
import { hubDbOptions, parseCli, UsageError } from "./args";
import { openHubForCli } from "./hub-db";

export async function runUsersCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "reset-password") {
    console.error("usage: certhub users reset-password <username> [--password-stdin]");
    return 2;
  }
  const { values, positionals } = parseCli(rest, { ...hubDbOptions, "password-stdin": { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("usage: certhub users reset-password <username> [--password-stdin]");
  const password = values["password-stdin"] ? (await Bun.stdin.text()).trim() : randomToken(16);
  const { db, close } = await openHubForCli(values);
  try {
    const found = await findUserByUsername(db, positionals[0]);
    if (!found) {
      console.error(`certhub: no user "${positionals[0]}"`);
      return 1;
    }
    await resetPassword(db, found.principal.id, password, CLI_ACTOR);
    console.log(`Password for "${found.user.username}" reset; all of its sessions were signed out.`);
    if (!values["password-stdin"]) console.log(`New password: ${password}   (shown once)`);
    return 0;
  } finally {
    close();
  }
}
