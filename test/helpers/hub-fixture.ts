// One in-process hub per test file (or describe block) with a signed-in admin session: the
// "start a hub, sign in; stop it afterwards" setup most hub tests share. Call it where the
// hooks belong (top level or inside a describe); `hub` and `admin` are there once beforeAll ran.
import { afterAll, beforeAll } from "bun:test";
import { signIn, startTestHub, type Session, type TestHub } from "./session";

export interface SignedInHub {
  readonly hub: TestHub;
  readonly admin: Session;
}

/**
 * Registers beforeAll (start a hub, sign in as admin) and afterAll (`beforeStop`, then stop the
 * hub) and returns the fixture those hooks fill in.
 */
export function useSignedInHub(opts: { beforeStop?: () => Promise<unknown> } = {}): SignedInHub {
  let hub: TestHub | undefined;
  let admin: Session | undefined;
  beforeAll(async () => {
    hub = await startTestHub();
    admin = await signIn(hub.url);
  });
  afterAll(async () => {
    await opts.beforeStop?.();
    await hub?.stop();
  });
  return {
    get hub() {
      if (!hub) throw new Error("the test hub is not started yet (use it inside a test or hook)");
      return hub;
    },
    get admin() {
      if (!admin) throw new Error("the admin session is not signed in yet (use it inside a test or hook)");
      return admin;
    },
  };
}
