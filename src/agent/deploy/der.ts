// A minimal DER encoder: just the ASN.1 types a PKCS#12 file needs (SEQUENCE, SET, INTEGER,
// OBJECT IDENTIFIER, OCTET STRING, NULL, BMPString, context tags). Writing only — certhub never
// parses PKCS#12 — so a few dozen lines beat a dependency (see pfx.ts for why).

export type Der = Uint8Array;

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function tlv(tag: number, content: Uint8Array): Der {
  return concat([Uint8Array.of(tag), length(content.length), content]);
}

export const sequence = (...items: Der[]): Der => tlv(0x30, concat(items));

/** SET OF: DER wants the elements sorted by their encodings. */
export function set(...items: Der[]): Der {
  const sorted = [...items].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  });
  return tlv(0x31, concat(sorted));
}

export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes);
export const nullValue = (): Der => Uint8Array.of(0x05, 0x00);

/** Non-negative INTEGER. */
export function integer(n: number): Der {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`integer out of range: ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

export function oid(dotted: string): Der {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** BMPString: UTF-16 big-endian code units. */
export function bmpString(text: string): Der {
  return tlv(0x1e, utf16be(text));
}

export function utf16be(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/** [n] EXPLICIT: wraps a complete encoding. */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);
/** [n] IMPLICIT for a primitive type: replaces the tag, keeps the content bytes. */
export const implicitPrimitive = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content);
