// Joining keys for hub tests, created the way an administrator does (POST /api/v1/tokens).
import { expect } from "bun:test";
import type { Session } from "../helpers/session";

/** Creates a joining key through the admin API (a random title unless `body` names one); expects 201. */
export async function createJoiningKey(admin: Session, body: Record<string, unknown> = {}): Promise<{ id: string; clientId: string; secret: string }> {
  const res = await admin.json("/api/v1/tokens", "POST", { title: `key ${Math.random().toString(36).slice(2, 8)}`, ...body });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; clientId: string; secret: string };
}
