// Security review #12: /static/<name> looks assets up by request path; names of
// Object.prototype members (constructor, __proto__, toString …) must be 404, not 200.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestHub, type TestHub } from "../../helpers/session";

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.stop());

for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "isPrototypeOf"]) {
  test(`/static/${name} is 404`, async () => {
    const res = await fetch(`${hub.url}/static/${name}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("etag")).toBeNull();
    expect(await res.json()).toEqual({ error: "not found" });
  });
}

test("the real assets are still served with an ETag, and a matching If-None-Match is 304", async () => {
  for (const name of ["htmx.min.js", "app.css", "app.js"]) {
    const res = await fetch(`${hub.url}/static/${name}`);
    expect(res.status).toBe(200);
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    expect((await res.text()).length).toBeGreaterThan(100);
    const again = await fetch(`${hub.url}/static/${name}`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  }
});
