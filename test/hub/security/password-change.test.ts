// Security review #9: the account page's "current password" must not be an unlimited password
// oracle for whoever holds a session. Wrong current passwords are counted before verifying (a
// parallel burst cannot outrun the limit), and reaching the limit ends the session. Measured
// with 20 parallel wrong guesses on one session: before the fix 20 evaluated and the session
// lived on; after, at most 5 evaluated and the session is gone.
import { expect, test } from "bun:test";
import { PASSWORD_CHANGE_FAILURES } from "../../../src/hub/ui/pages/account";
import { login, signIn, type Session } from "../../helpers/session";
import { useSignedInHub } from "../../helpers/hub-fixture";

const fx = useSignedInHub();

async function user(username: string, password: string) {
  const res = await fx.admin.json("/api/v1/principals", "POST", { type: "user", username, password, roles: ["readonly"] });
  expect(res.status).toBe(201);
  return signIn(fx.hub.url, username, password);
}

const change = (s: Session, current: string, next = "a-brand-new-password-9") =>
  s.fetch("/account/password", { method: "POST", body: new URLSearchParams({ current, password: next, confirm: next }) });

test("parallel wrong current passwords: at most the limit are evaluated, then the session ends", async () => {
  const stolen = await user("oracle-victim", "victims-password-1");
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => change(stolen, `guess-${i}`)));
  const statuses = results.map((r) => r.status);
  // Each evaluated wrong password leaves one failed account.password-change row.
  const audit = (await (await fx.admin.fetch("/api/v1/audit?q=account.password-change&limit=200")).json()) as { actorLabel: string; action: string; outcome: string }[];
  const evaluated = audit.filter((e) => e.actorLabel === "oracle-victim" && e.action === "account.password-change" && e.outcome === "failure").length;
  console.log(`password-change burst of 20: ${evaluated} evaluated; answers ${[422, 429, 302].map((code) => `${statuses.filter((s) => s === code).length}×${code}`).join(", ")}`);
  expect(evaluated).toBeLessThanOrEqual(PASSWORD_CHANGE_FAILURES);
  // Wrong (422), signed out for guessing (429) or, once the session is gone, sent to sign in (302).
  expect(statuses.every((s) => s === 422 || s === 429 || s === 302)).toBe(true);
  const ended = results.find((r) => r.status === 429)!;
  expect(await ended.text()).toContain("You have been signed out");
  expect(ended.headers.get("set-cookie")).toContain("certhub_session=;");
  // The session is gone, so the right password cannot be confirmed with it either.
  expect((await stolen.fetch("/api/v1/me")).status).toBe(401);
  expect((await change(stolen, "victims-password-1")).status).not.toBe(303);
  // The password did not change; its owner signs in as before.
  expect((await login(fx.hub.url, "oracle-victim", "victims-password-1")).status).toBe(303);
}, 60_000);

test("one at a time: the limit-th wrong password signs out, and other sessions cannot keep guessing", async () => {
  const first = await user("sequential-victim", "victims-password-2");
  for (let i = 0; i < PASSWORD_CHANGE_FAILURES - 1; i++) expect((await change(first, `guess-${i}`)).status).toBe(422);
  expect((await change(first, "guess-last")).status).toBe(429);
  expect((await first.fetch("/api/v1/me")).status).toBe(401);
  // A second session of the same user is refused too (and ended) while the window lasts, even
  // with the right current password: the guesses are counted per user, not per session.
  const second = await signIn(fx.hub.url, "sequential-victim", "victims-password-2");
  expect((await change(second, "victims-password-2")).status).toBe(429);
  expect((await second.fetch("/api/v1/me")).status).toBe(401);
  const audit = (await (await fx.admin.fetch("/api/v1/audit?q=account.password-change-limit")).json()) as { actorLabel: string }[];
  expect(audit.filter((e) => e.actorLabel === "sequential-victim").length).toBe(2);
}, 60_000);

test("a few typos, then the right current password: changed, and the count starts over", async () => {
  const s = await user("typo-changer", "typo-password-old1");
  for (let i = 0; i < PASSWORD_CHANGE_FAILURES - 2; i++) expect((await change(s, `typo-${i}`)).status).toBe(422);
  expect((await change(s, "typo-password-old1", "typo-password-new22")).status).toBe(303);
  for (let i = 0; i < PASSWORD_CHANGE_FAILURES - 1; i++) expect((await change(s, `typo-again-${i}`)).status).toBe(422);
  expect((await s.fetch("/api/v1/me")).status).toBe(200);
}, 60_000);
