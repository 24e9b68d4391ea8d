// Shared by hub (src/hub/agent-api, src/hub/fleet) and agent (src/agent/hub-client).
export * from "./schemas";
export * from "./signing";
export * from "./fingerprint";
