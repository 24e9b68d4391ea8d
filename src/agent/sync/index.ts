// The agent's sync engine (engine.ts loops, exchange.ts one sync, push.ts WebSocket/long-poll).
export { SyncEngine, type Connection, type SyncHooks } from "./engine";
export { webSocketPushWanted } from "./push";
