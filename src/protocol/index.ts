// The hub <-> agent wire protocol, shared by hub (src/hub/agent-api, src/hub/fleet) and agent
// (src/agent/hub-client, src/agent/sync/). Every body either side receives is validated
// against these schemas (zod 4). The agent only ever connects outbound:
//   POST /api/agent/v1/join    join.ts    joining key + new Ed25519 public key → instance id
//   POST /api/agent/v1/sync    sync.ts    heartbeat, results, certificates → config, commands (204 = nothing new)
//   POST /api/agent/v1/wait    wait.ts    long-poll: {nudge:true} as soon as something is waiting
//   GET  /api/agent/v1/push    push.ts    WebSocket: {nudge:true} frames; the long-poll is the fallback
//   POST /api/agent/v1/rekey   rekey.ts   after an admin "reset identity": replace the instance key
//   POST /api/agent/v1/leave   join.ts    the agent leaves; the hub forgets the instance
// commands.ts: commands and results; errors.ts: error codes; common.ts: limits, key, facts.
// Every request except join is signed with the instance key (signing.ts). Certificate and
// setting shapes are in certificates.ts and settings.ts (imported directly).
export * from "./common";
export * from "./join";
export * from "./commands";
export * from "./sync";
export * from "./wait";
export * from "./push";
export * from "./rekey";
export * from "./errors";
export * from "./signing";
export * from "./fingerprint";
