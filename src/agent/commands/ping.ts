// ping: proves the round trip and reports the agent's version and clock.
import { VERSION } from "../../version";
import type { Handler } from "./types";

export const ping: Handler = async () => ({ status: "succeeded", message: "pong", data: { version: VERSION, time: Date.now() } });
