// JSON from outside, parsed with a nesting limit. JSON.parse itself copes with 150,000 levels,
// but everything after it recurses (zod, JSON.stringify when storing) and overflows the stack:
// a 500 for the request. One scan before parsing keeps such bodies out as a 400.

/** Deeper than any body certhub sends or accepts (certificate reports nest about 6 levels). */
export const MAX_JSON_DEPTH = 64;

/** Nesting depth of JSON text (arrays and objects; brackets inside strings do not count). */
export function jsonDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
      continue;
    }
    if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return max;
}

export type BoundedJson = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses JSON text, refusing nesting deeper than `maxDepth`. Never throws. */
export function parseJsonBounded(text: string, maxDepth = MAX_JSON_DEPTH): BoundedJson {
  if (jsonDepth(text, maxDepth) > maxDepth) return { ok: false, error: `JSON nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: "malformed JSON" };
  }
}
