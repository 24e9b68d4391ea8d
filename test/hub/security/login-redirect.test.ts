// Security review #8: after sign-in, `next` may only lead to a path on this hub. Browsers read
// "/\evil.example", "/<TAB>/evil.example" and "//evil" as another host; before the fix the first
// two became the Location header as given.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { safeNext } from "../../../src/hub/ui/pages/login";
import { ADMIN_PASSWORD } from "../../helpers";
import { startTestHub, type TestHub } from "../../helpers/session";

const HOSTILE = [
  "/\\evil.example",
  "/\\/evil.example",
  "/\t/evil.example",
  "/\t\\evil.example",
  "/\r/evil.example",
  "/\n/evil.example",
  "\t//evil.example",
  "//evil.example",
  "///evil.example",
  "https://evil.example/",
  "http:evil.example",
  "/%5Cevil.example/..", // normalises to something else
  "/./\\evil.example",
  "/../\\evil.example",
  "javascript:alert(1)",
  " /instances",
  "",
];
const FINE = ["/", "/instances", "/instances?status=offline&q=web%201", "/settings/users#new", "/%2F%2Fevil.example"];

/** Where a browser would go from a Location header on this hub. */
function landing(location: string, hubUrl: string) {
  return new URL(location, hubUrl);
}

describe("safeNext", () => {
  test("anything that could leave the hub, or does not normalise to itself, becomes /", () => {
    for (const next of HOSTILE) expect(safeNext(next), JSON.stringify(next)).toBe("/");
  });
  test("ordinary paths with query and fragment survive unchanged", () => {
    for (const next of FINE) expect(safeNext(next)).toBe(next);
  });
});

describe("sign-in redirect", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.stop());

  test("a hostile next= never sends the browser to another host", async () => {
    for (const next of HOSTILE.slice(0, 8)) {
      const res = await fetch(`${hub.url}/login`, {
        method: "POST",
        body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD, next }),
        redirect: "manual",
      });
      expect(res.status, JSON.stringify(next)).toBe(303);
      const location = res.headers.get("location")!;
      expect(location, JSON.stringify(next)).toBe("/");
      expect(landing(location, hub.url).origin).toBe(new URL(hub.url).origin);
    }
  }, 60_000);

  test("the page a signed-out user asked for is where sign-in leads", async () => {
    const bounce = await fetch(`${hub.url}/instances?status=offline`, { redirect: "manual" });
    const loginUrl = new URL(bounce.headers.get("location")!, hub.url);
    const next = loginUrl.searchParams.get("next")!;
    const res = await fetch(`${hub.url}/login`, { method: "POST", body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD, next }), redirect: "manual" });
    expect(res.headers.get("location")).toBe("/instances?status=offline");
  }, 30_000);

  test("the sign-in form does not carry a hostile next= along", async () => {
    const page = await (await fetch(`${hub.url}/login?next=${encodeURIComponent("/\\evil.example")}`)).text();
    expect(page).toContain('name="next" value="/"');
    expect(page).not.toContain("evil.example");
  });
});
