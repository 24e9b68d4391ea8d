// /sync and /wait read one decision (src/hub/fleet/waiting.ts): what the agent lacks wakes its
// long-poll, and the same things are what a sync then delivers.
import { expect, test } from "bun:test";
import { shouldWake, whatIsWaiting } from "../../../src/hub/fleet/waiting";

const base = { state: "active" as const, identityResetPending: false, identityConflict: false, latestCommandSeq: 5, settingsVersion: 3 };
const upToDate = { cursor: 5, settingsVersion: 3 };

test("an agent that has everything is not woken and gets nothing", () => {
  expect(whatIsWaiting(base, upToDate, "active")).toEqual({ cutOff: false, rekey: false, commands: false, config: false });
  expect(shouldWake(base, upToDate, "active")).toBe(false);
});

test("each thing an agent lacks wakes it and is what its sync delivers", () => {
  const cases: [string, Partial<typeof base>, Partial<typeof upToDate>, string | undefined, keyof ReturnType<typeof whatIsWaiting>][] = [
    ["a queued command", {}, { cursor: 4 }, "active", "commands"],
    ["a new config version", { settingsVersion: 4 }, {}, "active", "config"],
    ["an identity reset", { identityResetPending: true }, {}, "active", "rekey"],
    ["a revoked instance", { state: "revoked" as never }, {}, "active", "cutOff"],
    ["a revoked joining key", {}, {}, "revoked", "cutOff"],
  ];
  for (const [what, inst, has, keyState, field] of cases) {
    const i = { ...base, ...inst };
    const h = { ...upToDate, ...has };
    const w = whatIsWaiting(i, h, keyState);
    expect({ what, on: Object.entries(w).filter(([, v]) => v).map(([k]) => k) }).toEqual({ what, on: [field] });
    expect({ what, wake: shouldWake(i, h, keyState) }).toEqual({ what, wake: true });
  }
});

test("in identity conflict only a cut-off or a reset wakes the agent (nothing else is delivered)", () => {
  const conflicted = { ...base, identityConflict: true };
  expect(shouldWake(conflicted, { cursor: 0, settingsVersion: 0 }, "active")).toBe(false);
  expect(shouldWake({ ...conflicted, identityResetPending: true }, upToDate, "active")).toBe(true);
  expect(shouldWake(conflicted, upToDate, "revoked")).toBe(true);
});
