// GET /api/agent/v1/push (WebSocket): the cheap push channel. The upgrade request is signed like
// /wait (method GET, path /api/agent/v1/push, empty body) and says what the agent has in its
// query (?cursor=&settingsVersion=). Then:
//   agent → hub  text {"cursor":n,"settingsVersion":m} after every sync (what it has now)
//   hub → agent  text {"nudge":false} at once on open (nothing waiting), or {"nudge":true}
//                whenever something is waiting: sync now. The first frame tells the agent the
//                channel works end to end (a proxy may answer 101 and then pass nothing).
// The hub closes the socket when the instance is revoked, removed or reset (the agent syncs and
// learns why). Nothing else flows but the runtime's WebSocket pings.
import { z } from "zod";
import { counter } from "./common";

export const PushHasSchema = z.strictObject({ cursor: counter, settingsVersion: counter });
export type PushHas = z.infer<typeof PushHasSchema>;

/** The query of the upgrade request (strings on the wire). */
export const PushQuerySchema = z.object({
  cursor: z.coerce.number().pipe(counter),
  settingsVersion: z.coerce.number().pipe(counter),
});

export const PushMessageSchema = z.strictObject({ nudge: z.boolean() });
export type PushMessage = z.infer<typeof PushMessageSchema>;

/** Close codes the hub uses (4000–4999 are the application's). */
export const PUSH_CLOSE = {
  /** Revoked, removed or reset: sync to learn why. */
  cutOff: 4403,
  /** The hub sheds connections or shuts down: reconnect later (jittered). */
  released: 4503,
  /** The agent sent something that is not a PushHas. */
  badMessage: 4400,
} as const;
