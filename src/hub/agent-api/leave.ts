// POST /api/agent/v1/leave — the agent leaves the hub; the instance and its queued commands
// and certificates are removed. The agent forgets its key afterwards.
import { audit } from "../../db/audit";
import { LeaveRequestSchema } from "../../protocol";
import { readJson, type Ctx } from "./util";
import { authenticate } from "./verify";

export async function handleLeave(c: Ctx) {
  const { db, fleet } = c.get("deps");
  const authed = await authenticate(c, { sequence: "enforce", endpoint: "leave" });
  if (!authed.ok) return authed.response;
  const body = await readJson(c, LeaveRequestSchema, authed.auth.raw);
  if (!body.ok) return body.response;
  const { inst, ip } = authed.auth;
  await fleet.deleteInstance(inst.id);
  await audit(db, { id: null, label: inst.hostname, ip }, "instance.leave", { type: "instance", id: inst.id });
  return c.json({ left: true });
}
