#!/usr/bin/env bun
// certhub: one binary, two modes. Hub (default) or agent (--agent), plus admin CLI commands.
// @peculiar/x509 (certificates on both sides) needs the Reflect polyfill before it loads.
import "reflect-metadata";
import { describeStorageError } from "./db/storage-errors";
import { describeCliError } from "./cli/args";
import { VERSION } from "./version";

const HELP = `certhub ${VERSION} — certificate management hub and agent

Usage:
  certhub [serve] [--data-dir DIR] [--db-url URL] [--listen HOST:PORT] [--http]
                  [--tls-cert FILE --tls-key FILE]      run the hub (default mode)
                  [--trust-proxy CIDR,…] [--audit-max-age DAYS]
                  [--audit-max-rows N] [--audit-keep-security N]
                  [--session-idle SECONDS] [--session-max SECONDS]
  certhub --agent [--data-dir DIR] [--listen HOST:PORT] [--allow-scripts]
                  [--join URL --client-id ID --secret-file FILE [--fingerprint sha256:…]]
                                                       run the agent on this host

Hub admin commands (act on the hub's data dir / database; safe while it runs):
  certhub keys create --title T [--group G] [--role managed-instance|administrator|readonly]
                      [--expires 30d] [--max-uses N] [--json]
  certhub keys list [--json]
  certhub keys revoke <clientId> [--retire]
  certhub users reset-password <username>

Agent commands (talk to the running agent's local API):
  certhub hub join <hubUrl> <clientId> <clientSecret> [--fingerprint sha256:…]
  certhub hub leave
  certhub hub status

Hub options (each also read from the environment):
  --trust-proxy CIDR,…       reverse proxies whose X-Forwarded-For names the client
                             (CERTHUB_TRUST_PROXY; default none: the peer is the client)
  --audit-max-age DAYS       delete audit rows older than this (CERTHUB_AUDIT_MAX_AGE_DAYS, 365)
  --audit-max-rows N         keep at most N audit rows (CERTHUB_AUDIT_MAX_ROWS, 1000000)
  --audit-keep-security N    always keep the newest N security events, whatever their age
                             (CERTHUB_AUDIT_KEEP_SECURITY, 10000); 0 turns a limit off
  --session-idle SECONDS     sign an admin out after this long idle
                             (CERTHUB_SESSION_IDLE_SECONDS, 7200; whole seconds from 60;
                             not longer than --session-max)
  --session-max SECONDS      end an admin session this long after sign-in, busy or not
                             (CERTHUB_SESSION_MAX_SECONDS, 86400; whole seconds from 60)

Options:
  --version    print the version
  --help       show this help
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--version") || argv[0] === "version") {
    console.log(`certhub ${VERSION}`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h") || argv[0] === "help") {
    console.log(HELP);
    return 0;
  }
  if (argv.includes("--agent") || argv[0] === "agent") {
    const { runAgentCommand } = await import("./cli/agent");
    return runAgentCommand(argv.filter((a) => a !== "--agent" && a !== "agent"));
  }
  const [command, ...rest] = argv;
  switch (command) {
    case "keys": {
      const { runKeysCommand } = await import("./cli/keys");
      return runKeysCommand(rest);
    }
    case "users": {
      const { runUsersCommand } = await import("./cli/users");
      return runUsersCommand(rest);
    }
    case "hub": {
      const { runHubCommand } = await import("./cli/hub");
      return runHubCommand(rest);
    }
    case "serve": {
      const { runServeCommand } = await import("./cli/serve");
      return runServeCommand(rest);
    }
    default: {
      if (command && !command.startsWith("-")) {
        console.error(`certhub: unknown command "${command}"\n\n${HELP}`);
        return 2;
      }
      const { runServeCommand } = await import("./cli/serve");
      return runServeCommand(argv);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve/agent keep running; they resolve with -1 and exit on signals themselves.
    if (code >= 0) process.exit(code);
  },
  (err) => {
    console.error(`certhub: ${describeStorageError(err) ?? describeCliError(err) ?? (err instanceof Error ? err.message : String(err))}`);
    process.exit(1);
  },
);
