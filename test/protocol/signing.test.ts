// The signed headers are bounded like every other agent-reported counter (security review #3's
// leftover): before, x-certhub-seq took any safe integer, so an instance could push its own
// sequence high-water mark to 2^53 - 1, and "0x10" / "1e3" / " 16" all verified as 16.
import { describe, expect, test } from "bun:test";
import { MAX_COUNTER, SIGNATURE_HEADERS, readSignatureHeaders } from "../../src/protocol";
import { FakeAgent } from "../hub/agent-api.fixtures";
import { createJoiningKey } from "../hub/joining-keys.fixtures";
import { useSignedInHub } from "../helpers/hub-fixture";

const SIGNATURE = "A".repeat(86);
const headers = (over: Partial<Record<keyof typeof SIGNATURE_HEADERS, string>> = {}) => {
  const h: Record<string, string> = {
    [SIGNATURE_HEADERS.instance]: "in_abc",
    [SIGNATURE_HEADERS.time]: String(Date.now()),
    [SIGNATURE_HEADERS.seq]: "7",
    [SIGNATURE_HEADERS.boot]: "boot-id-1234",
    [SIGNATURE_HEADERS.signature]: SIGNATURE,
  };
  for (const [k, v] of Object.entries(over)) h[SIGNATURE_HEADERS[k as keyof typeof SIGNATURE_HEADERS]] = v;
  return (name: string) => h[name];
};

describe("readSignatureHeaders", () => {
  test("takes a sequence up to 2^40 and refuses anything above, like the other counters", () => {
    expect(readSignatureHeaders(headers({ seq: "0" }))?.seq).toBe(0);
    expect(readSignatureHeaders(headers({ seq: String(MAX_COUNTER) }))?.seq).toBe(MAX_COUNTER);
    expect(readSignatureHeaders(headers({ seq: String(MAX_COUNTER + 1) }))).toBeNull();
    expect(readSignatureHeaders(headers({ seq: String(Number.MAX_SAFE_INTEGER) }))).toBeNull();
    expect(readSignatureHeaders(headers({ seq: "1".repeat(40) }))).toBeNull();
  });

  test("numbers are plain decimal: other spellings of the same value are refused", () => {
    for (const seq of ["0x10", "1e3", " 16", "16 ", "016", "+16", "-1", "1.5", "", "NaN", "Infinity"]) {
      expect(readSignatureHeaders(headers({ seq }))).toBeNull();
    }
    for (const time of ["-5", "1e12", "0x1", String(2 ** 53)]) expect(readSignatureHeaders(headers({ time }))).toBeNull();
  });

  test("the other headers keep their shapes", () => {
    const ok = readSignatureHeaders(headers());
    expect(ok).toMatchObject({ instanceId: "in_abc", seq: 7, bootId: "boot-id-1234" });
    expect(ok?.signature.length).toBe(64);
    expect(readSignatureHeaders(headers({ instance: "x".repeat(65) }))).toBeNull();
    expect(readSignatureHeaders(headers({ boot: "short" }))).toBeNull();
    expect(readSignatureHeaders(headers({ signature: "A".repeat(85) }))).toBeNull();
    expect(readSignatureHeaders((n) => (n === SIGNATURE_HEADERS.seq ? null : headers()(n)))).toBeNull();
  });
});

describe("the hub", () => {
  const fx = useSignedInHub();

  test("refuses a correctly signed sync whose sequence is above 2^40, and its state does not move", async () => {
    const key = await createJoiningKey(fx.admin, { role: "managed-instance" });
    const agent = await new FakeAgent(fx.hub.url).joined(key.clientId, key.secret);
    expect((await agent.sync()).status).toBe(200);
    for (const seq of [Number.MAX_SAFE_INTEGER, MAX_COUNTER + 1]) {
      const res = await agent.sync({}, { seq });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("bad-signature");
    }
    // The high-water mark did not jump: the agent's next ordinary sequence is still accepted.
    expect([200, 204]).toContain((await agent.sync()).status);
    expect([200, 204]).toContain((await agent.sync({}, { seq: MAX_COUNTER })).status);
  });
});
