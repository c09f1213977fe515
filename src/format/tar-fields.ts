// The field encodings of tar headers and pax records (layout: tar-reader.ts):
// octal or GNU base-256 numbers, NUL-terminated strings, "LEN KEY=VALUE\n"
// records, pax times, and the check of an entry's path.

import { DEPTH_MAX } from './catar-constants.ts';

const NAME_MAX = 255;
/** Each byte as the code point of its value (in pieces: a spread of a long value would overflow the stack). */
export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A path's components, refused where it leaves the top directory. */
export function pathNames(raw: Uint8Array, fail: (why: string) => Error): Uint8Array[] {
  if (raw[0] === 0x2f) throw fail('absolute path (tar paths must be relative to the top directory)');
  const names: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i < raw.length && raw[i] !== 0x2f) continue;
    const c = raw.subarray(start, i);
    start = i + 1;
    if (c.length === 0 || (c.length === 1 && c[0] === 0x2e)) continue;
    if (c.length === 2 && c[0] === 0x2e && c[1] === 0x2e) throw fail("path with a '..' component (it would leave the top directory)");
    if (c.length > NAME_MAX) throw fail(`a path component of ${c.length} bytes (at most ${NAME_MAX})`);
    names.push(c);
  }
  if (names.length > DEPTH_MAX) throw fail(`more than ${DEPTH_MAX} directories deep`);
  return names;
}

/** "LEN KEY=VALUE\n" records; values stay bytes (xattr values are binary). */
export function parsePax(b: Uint8Array, fail: (why: string) => Error): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (let at = 0; at < b.length; ) {
    let sp = at;
    while (sp < b.length && b[sp] >= 0x30 && b[sp] <= 0x39) sp++;
    const len = Number(latin1(b.subarray(at, sp)));
    if (sp === at || b[sp] !== 0x20 || !(len > sp - at + 1) || at + len > b.length || b[at + len - 1] !== 0x0a) {
      throw fail(`malformed record at its byte ${at}`);
    }
    const rec = b.subarray(sp + 1, at + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw fail(`record without a key at its byte ${at}`);
    const key = utf8.decode(rec.subarray(0, eq));
    const value = rec.slice(eq + 1);
    out.set(key, value);
    at += len;
  }
  return out;
}

/** A pax time, "[-]SECONDS[.FRACTION]", in nanoseconds (digits past the ninth dropped). */
export function parseTime(s: string): bigint | null {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(s);
  if (!m) return null;
  const ns = BigInt(m[2]) * 1_000_000_000n + BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  return m[1] ? -ns : ns;
}

/** An octal or base-256 header number; null when it is neither. */
export function parseNumber(f: Uint8Array): number | null {
  if (f[0] & 0x80) {
    // GNU base-256: big-endian two's complement, the first byte's top bit the marker.
    const negative = (f[0] & 0x40) !== 0;
    let v = BigInt(f[0] & 0x3f) - (negative ? 0x40n : 0n);
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]);
    return Number(v);
  }
  return parseOctal(f);
}

export function parseOctal(f: Uint8Array): number | null {
  let i = 0;
  while (i < f.length && f[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < f.length && f[i] >= 0x30 && f[i] <= 0x37; i++, digits++) v = v * 8 + (f[i] - 0x30);
  for (; i < f.length; i++) if (f[i] !== 0 && f[i] !== 0x20) return null;
  return digits ? v : f.every((x) => x === 0 || x === 0x20) ? 0 : null;
}

export function cString(b: Uint8Array): Uint8Array {
  const nul = b.indexOf(0);
  return nul < 0 ? b.slice() : b.slice(0, nul);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
