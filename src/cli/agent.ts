// `certhub --agent [--data-dir DIR] [--listen HOST:PORT] [--allow-scripts]
//                  [--join URL --client-id ID --secret-file F [--fingerprint sha256:…]]`
import { resolveAgentConfig } from "../agent/config";
import { runAgent } from "../agent/run";
import { parseCli, UsageError } from "./args";

const USAGE =
  "usage: certhub --agent [--data-dir DIR] [--listen 127.0.0.2:9696] [--allow-scripts]\n" +
  "                       [--join URL --client-id ID --secret-file FILE [--fingerprint sha256:…]]";

export async function runAgentCommand(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseCli(argv, {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      "allow-scripts": { type: "boolean" },
      join: { type: "string" },
      "client-id": { type: "string" },
      "secret-file": { type: "string" },
      fingerprint: { type: "string" },
    });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const joinFlags = [values.join, values["client-id"], values["secret-file"]];
    if (joinFlags.some((v) => v !== undefined) && joinFlags.some((v) => v === undefined)) {
      throw new UsageError("--join needs --client-id and --secret-file (the secret is read from a file, never from the command line)");
    }
    if (values.fingerprint && !values.join) throw new UsageError("--fingerprint only applies with --join");
    const config = resolveAgentConfig(values);
    const join = values.join
      ? { url: values.join, clientId: values["client-id"]!, secretFile: values["secret-file"]!, fingerprint: values.fingerprint }
      : undefined;
    return await runAgent(config, join);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`certhub --agent: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}
