// Hostile request bodies and query strings for the endpoint fuzz test (endpoints.test.ts).
// Deterministic: a seeded PRNG picks the mutations, so a failure reproduces with the same seed.

export interface FuzzBody {
  /** Short label printed when the body gets a 5xx. */
  name: string;
  contentType: string;
  body: string | Uint8Array<ArrayBuffer>;
}

/** mulberry32: small, seeded, good enough to pick test cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();
const concat = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array<ArrayBuffer>(new ArrayBuffer(chunks.reduce((n, c) => n + c.length, 0)));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/** JSON text nested `depth` levels deep (arrays), e.g. 150,000 levels ≈ 300 KB. */
export const deepArray = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
/** JSON text nested `depth` levels deep (objects). */
export const deepObject = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

/** Values a field must survive: wrong types, edge numbers, odd strings, prototype names. */
export const HOSTILE_VALUES: [string, unknown][] = [
  ["null", null],
  ["true", true],
  ["zero", 0],
  ["negative", -1],
  ["fraction", 1.5],
  ["1e308", 1e308],
  ["-1e308", -1e308],
  ["9e15", 9e15],
  ["2^53+2", 2 ** 53 + 2],
  ["empty string", ""],
  ["100k string", "x".repeat(100_000)],
  ["CR/LF", "a\r\nSet-Cookie: x=1"],
  ["NUL", "a\u0000b"],
  ["lone surrogate", "\ud800"],
  ["__proto__ string", "__proto__"],
  ["constructor string", "constructor"],
  ["empty array", []],
  ["empty object", {}],
  ["nested arrays", [[[["x"]]]]],
  ["object with __proto__", JSON.parse('{"__proto__":{"polluted":true}}')],
  ["markup", "<script>alert(1)</script>"],
  ["numeric string", "1.5"],
  ["emoji", "😀".repeat(300)],
  ["ISO date", "2026-01-01T00:00:00Z"],
  ["path", "../../../etc/passwd"],
  ["deep JSON in a string", "[".repeat(20_000) + "]".repeat(20_000)],
];

/** Raw JSON literals JSON.stringify cannot produce. */
const RAW_LITERALS: [string, string][] = [
  ["1e400", "1e400"],
  ["-1e400", "-1e400"],
  ["30-digit integer", "123456789012345678901234567890"],
  ["-0", "-0"],
  ["1e-400", "1e-400"],
  ["deep array 40k", deepArray(40_000)],
  ["deep object 40k", deepObject(40_000)],
];

/** Bodies that are hostile as a whole (not field by field). */
export function wholeBodies(): FuzzBody[] {
  const json = "application/json";
  const list: FuzzBody[] = [
    { name: "deep array 150k", contentType: json, body: deepArray(150_000) },
    { name: "deep object 100k", contentType: json, body: deepObject(100_000) },
    { name: "deep array 1k", contentType: json, body: deepArray(1000) },
    { name: "empty", contentType: json, body: "" },
    { name: "truncated", contentType: json, body: '{"a":' },
    { name: "null", contentType: json, body: "null" },
    { name: "array", contentType: json, body: "[]" },
    { name: "string", contentType: json, body: '"x"' },
    { name: "number 1e400", contentType: json, body: "1e400" },
    { name: "__proto__ key", contentType: json, body: '{"__proto__":{"isAdmin":true,"roles":["administrator"]}}' },
    { name: "constructor.prototype", contentType: json, body: '{"constructor":{"prototype":{"polluted":1}}}' },
    { name: "duplicate keys", contentType: json, body: '{"a":1,"a":2,"title":"x","title":[]}' },
    { name: "bad escape", contentType: json, body: '{"a":"\\x"}' },
    { name: "escaped lone surrogate", contentType: json, body: '{"title":"\\ud800","name":"\\udfff"}' },
    { name: "bad UTF-8", contentType: json, body: concat('{"title":"', [0xff, 0xfe, 0xc3, 0x28], '","name":"', [0xed, 0xa0, 0x80], '"}') },
    { name: "overlong UTF-8", contentType: json, body: concat('{"title":"', [0xc0, 0xaf], '"}') },
    { name: "BOM", contentType: json, body: "\ufeff{}" },
    { name: "wide array", contentType: json, body: `[${"1,".repeat(60_000)}1]` },
    { name: "many keys", contentType: json, body: `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(",")}}` },
    { name: "300 KB string", contentType: json, body: JSON.stringify({ title: "x".repeat(300_000) }) },
    { name: "NUL bytes", contentType: json, body: '{"title":"a\u0000b"}\u0000' },
    { name: "JSON as text/plain", contentType: "text/plain", body: '{"title":"x"}' },
    { name: "no content type", contentType: "", body: '{"title":"x"}' },
    { name: "content type with odd charset", contentType: "application/json; charset=utf-16", body: '{"title":"x"}' },
    { name: "form where JSON is expected", contentType: "application/x-www-form-urlencoded", body: "title=x&__proto__=y" },
    { name: "multipart without boundary", contentType: "multipart/form-data", body: "--x\r\n\r\n" },
    { name: "multipart broken", contentType: "multipart/form-data; boundary=zz", body: '--zz\r\nContent-Disposition: form-data; name="title"\r\n\r\nx' },
    { name: "binary", contentType: "application/octet-stream", body: new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 131) & 0xff)) },
  ];
  return list;
}

/**
 * `count` JSON bodies derived from `template`: one field (top level or one level down) replaced
 * by a hostile value or raw literal, sometimes two, sometimes extra prototype keys.
 */
export function mutatedJson(template: Record<string, unknown>, count: number, rand: () => number): FuzzBody[] {
  const paths = fieldPaths(template);
  const out: FuzzBody[] = [];
  for (let i = 0; i < count; i++) {
    const path = paths[Math.floor(rand() * paths.length)] ?? ["x"];
    const copy = structuredClone(template);
    const useRaw = rand() < 0.25;
    let name: string;
    let text: string;
    if (useRaw) {
      const [label, literal] = RAW_LITERALS[Math.floor(rand() * RAW_LITERALS.length)];
      setPath(copy, path, "__RAW__");
      text = JSON.stringify(copy).replace('"__RAW__"', literal);
      name = `${path.join(".")} = ${label}`;
    } else {
      const [label, value] = HOSTILE_VALUES[Math.floor(rand() * HOSTILE_VALUES.length)];
      setPath(copy, path, value);
      if (rand() < 0.15) Object.defineProperty(copy, "constructor", { value: { prototype: { polluted: 1 } }, enumerable: true });
      text = JSON.stringify(copy);
      if (rand() < 0.15) text = text.replace(/^\{/, '{"__proto__":{"admin":true},');
      name = `${path.join(".")} = ${label}`;
    }
    out.push({ name, contentType: "application/json", body: text });
  }
  return out;
}

/** `count` urlencoded form bodies from `fields`, with hostile values, keys and encodings. */
export function mutatedForms(fields: Record<string, string>, count: number, rand: () => number, csrf: string): FuzzBody[] {
  const keys = Object.keys(fields);
  const strings = HOSTILE_VALUES.filter(([, v]) => typeof v === "string") as [string, string][];
  const out: FuzzBody[] = [];
  const form = "application/x-www-form-urlencoded";
  for (let i = 0; i < count; i++) {
    const params = new URLSearchParams({ ...fields, _csrf: csrf });
    const key = keys[Math.floor(rand() * keys.length)] ?? "title";
    const kind = rand();
    if (kind < 0.6) {
      const [label, value] = strings[Math.floor(rand() * strings.length)];
      params.set(key, value);
      out.push({ name: `form ${key} = ${label}`, contentType: form, body: params.toString() });
    } else if (kind < 0.7) {
      out.push({ name: `form ${key} = bad percent-encoding`, contentType: form, body: `${params.toString()}&${key}=%zz%E0%A4%A` });
    } else if (kind < 0.8) {
      out.push({ name: `form ${key} = bad UTF-8`, contentType: form, body: `${params.toString()}&${key}=%ff%fe%c3%28` });
    } else if (kind < 0.9) {
      out.push({ name: "form prototype keys", contentType: form, body: `${params.toString()}&__proto__=x&constructor=y&${key}[]=z&${key}=w&toString=1` });
    } else {
      params.set(key, "1".repeat(400) + "e999");
      out.push({ name: `form ${key} = huge number`, contentType: form, body: params.toString() });
    }
  }
  return out;
}

/** Query strings for GET routes: odd pagination, filters, encodings. */
export const QUERY_STRINGS = [
  "limit=1.5",
  "limit=-1",
  "limit=0",
  "limit=1e309",
  "limit=abc",
  "limit=0x10",
  "limit=99999999999999999999",
  "limit=",
  "offset=1.5",
  "offset=-5",
  "offset=1e400",
  "page=1.5",
  "page=-1",
  "page=99999999999999999999",
  "page=NaN",
  "before=abc",
  "before=1.5",
  "before=-1",
  "q=%zz",
  "q=%ff%fe",
  `q=${"x".repeat(5000)}`,
  "q=%0d%0aSet-Cookie:%20x=1",
  "q=%00",
  "q[]=a&q=b",
  "status=__proto__",
  "status=constructor",
  "sort=toString",
  "group=%0d%0a",
  "instance=%0d%0a",
  "source=__proto__",
  "next=%2F%5Cevil.example",
  "__proto__[admin]=1&constructor=x",
];

/** Path parameter values: hostile ones (the real ids are added by the test). */
export const PARAM_VALUES = ["nope", "%0D%0Ainjected", "a%0Ab", "%00", "__proto__", "constructor", "x".repeat(3000), "%2E%2E%2F%2E%2E%2Fetc", "1.5", "-1", "%F0%9F%98%80", "%ff%fe", "%"];

function fieldPaths(obj: Record<string, unknown>): string[][] {
  const paths: string[][] = [];
  for (const [k, v] of Object.entries(obj)) {
    paths.push([k]);
    if (v && typeof v === "object") {
      const inner = Array.isArray(v) ? (v[0] && typeof v[0] === "object" ? Object.keys(v[0]).map((ik) => [k, "0", ik]) : [[k, "0"]]) : Object.keys(v).map((ik) => [k, ik]);
      paths.push(...inner);
    }
  }
  return paths;
}

function setPath(obj: unknown, path: string[], value: unknown) {
  let cur = obj as Record<string, unknown>;
  for (const p of path.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== "object") cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}
