// fnmatch(3) as casync calls it for `.caexclude` patterns: flags FNM_PERIOD only,
// in the "C" locale (casync never calls setlocale), on raw bytes.
//
// This reproduces glibc's matcher, quirks included, because a pattern that glibc
// treats oddly must exclude exactly the same files here:
//   * a name's leading '.' is matched only by a literal '.' (or "\."), never by
//     '*', '?' or a bracket expression, even "[.]";
//   * '\' escapes the next byte; a trailing '\' never matches;
//   * "[...]" takes '!' or '^' for negation, a leading ']' as a member, ranges by byte
//     value, "[:class:]" (C-locale classes), and the one-byte forms "[=c=]" and
//     "[.c.]"; an unterminated '[' is an ordinary byte, unless a member matched
//     before the end was found, in which case the pattern fails;
//   * an unknown class name, or a malformed symbol, fails the match outright.
// The test compares this against the C library's own fnmatch.

const BANG = 0x21;
const DOT = 0x2e;
const COLON = 0x3a;
const EQUALS = 0x3d;
const QUESTION = 0x3f;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const CARET = 0x5e;
const STAR = 0x2a;
const DASH = 0x2d;

/** glibc's limit on a class name inside "[:…:]". */
const CHAR_CLASS_MAX_LENGTH = 256;

const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const isLower = (c: number) => c >= 0x61 && c <= 0x7a;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number) => isUpper(c) || isLower(c);
const isGraph = (c: number) => c > 0x20 && c < 0x7f;

/** The C locale's character classes; bytes >= 0x80 belong to none. */
const CLASSES: Record<string, (c: number) => boolean> = {
  alnum: (c) => isAlpha(c) || isDigit(c),
  alpha: isAlpha,
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: isDigit,
  graph: isGraph,
  lower: isLower,
  print: (c) => c >= 0x20 && c < 0x7f,
  punct: (c) => isGraph(c) && !isAlpha(c) && !isDigit(c),
  space: (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d),
  upper: isUpper,
  xdigit: (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

/** Outcome of one bracket expression against one byte. */
const FAIL = -1; // no match at this position
const LITERAL = -2; // unterminated: '[' is an ordinary byte

/**
 * Reads a collating symbol "[.c.]" whose '.' is at p[dot]: the byte it names and
 * the index after it, or FAIL (unterminated, or not exactly one byte long).
 */
function collatingSymbol(p: Uint8Array, dot: number): [number, number] | typeof FAIL {
  let i = dot;
  for (;;) {
    const k = ++i < p.length ? p[i] : 0;
    if (k === DOT && p[i + 1] === RBRACKET) break;
    if (k === 0) return FAIL;
  }
  return i - dot === 2 ? [p[dot + 1], i + 2] : FAIL;
}

/**
 * Matches the bracket expression whose '[' is at p[open] against byte `ch`.  Returns
 * the pattern index after the closing ']' on a match, FAIL or LITERAL otherwise.
 */
function bracket(p: Uint8Array, open: number, ch: number): number {
  const at = (k: number) => (k < p.length ? p[k] : 0);
  let i = open + 1;
  const negated = at(i) === BANG || at(i) === CARET;
  if (negated) i++;
  // `c` is the first byte of the member being read, p[i] the byte after it.
  let c = at(i++);
  for (;;) {
    let plain = -1;
    let low = -1;
    if (c === BACKSLASH) {
      if (at(i) === 0) return FAIL;
      plain = at(i++);
    } else if (c === LBRACKET && at(i) === COLON) {
      let j = i;
      let name = '';
      let isClass = true;
      for (;;) {
        if (name.length === CHAR_CLASS_MAX_LENGTH) return FAIL;
        const k = at(++j);
        if (k === COLON && at(j + 1) === RBRACKET) {
          j += 2;
          break;
        }
        // glibc stops at 'z' too; no class name contains it.
        if (k < 0x61 || k >= 0x7a) {
          isClass = false;
          break;
        }
        name += String.fromCharCode(k);
      }
      if (isClass) {
        const test = Object.hasOwn(CLASSES, name) ? CLASSES[name] : undefined;
        if (!test) return FAIL;
        if (test(ch)) return skipRest(p, j, negated);
        i = j;
        c = at(i++);
        if (c === RBRACKET) break;
        continue;
      }
      plain = LBRACKET; // not a class after all: '[' is a member, ':' comes next
    } else if (c === LBRACKET && at(i) === EQUALS) {
      if (at(i + 1) !== 0 && at(i + 2) === EQUALS && at(i + 3) === RBRACKET) {
        const sym = at(i + 1);
        i += 4;
        if (ch === sym) return skipRest(p, i, negated);
        c = at(i++);
        if (c === RBRACKET) break;
        continue;
      }
      plain = LBRACKET;
    } else if (c === 0) {
      return LITERAL;
    } else if (c === LBRACKET && at(i) === DOT) {
      const sym = collatingSymbol(p, i);
      if (sym === FAIL) return FAIL;
      i = sym[1];
      // Unlike a plain byte, a symbol followed by "-]" counts as a range start.
      const isRange = at(i) === DASH && at(i + 1) !== 0;
      if (!isRange && ch === sym[0]) return skipRest(p, i, negated);
      low = sym[0];
      c = at(i++);
    } else {
      plain = c;
    }
    if (plain >= 0) {
      const isRange = at(i) === DASH && at(i + 1) !== 0 && at(i + 1) !== RBRACKET;
      if (!isRange && ch === plain) return skipRest(p, i, negated);
      low = plain;
      c = at(i++);
    }
    if (c === DASH && at(i) !== RBRACKET) {
      let high = at(i++);
      if (high === LBRACKET && at(i) === DOT) {
        const sym = collatingSymbol(p, i);
        if (sym === FAIL) return FAIL;
        [high, i] = sym;
      } else {
        if (high === BACKSLASH) high = at(i++);
        if (high === 0) return FAIL;
      }
      // The C locale collates by byte value.
      if (low <= ch && ch <= high) return skipRest(p, i, negated);
      c = at(i++);
    }
    if (c === RBRACKET) break;
  }
  return negated ? i : FAIL;
}

/** After a member matched: skips to the closing ']' the way glibc does. */
function skipRest(p: Uint8Array, i: number, negated: boolean): number {
  const at = (k: number) => (k < p.length ? p[k] : 0);
  for (;;) {
    const c = at(i++);
    if (c === RBRACKET) break;
    if (c === 0) return FAIL;
    if (c === BACKSLASH) {
      if (at(i) === 0) return FAIL;
      i++;
    } else if (c === LBRACKET && at(i) === COLON) {
      // glibc's skip loop looks for ":]" within a run of letters a..y.
      const start = i;
      let n = 0;
      for (;;) {
        const k = at(++i);
        if (++n === CHAR_CLASS_MAX_LENGTH) return FAIL;
        if (k === COLON && at(i + 1) === RBRACKET) {
          i += 2;
          break;
        }
        if (k < 0x61 || k >= 0x7a) {
          i = start;
          break;
        }
      }
    } else if (c === LBRACKET && at(i) === EQUALS) {
      if (at(i + 1) === 0) return FAIL;
      if (at(i + 2) !== EQUALS || at(i + 3) !== RBRACKET) return FAIL;
      i += 4;
    } else if (c === LBRACKET && at(i) === DOT) {
      for (;;) {
        const k = at(++i);
        if (k === 0) return FAIL;
        if (k === DOT && at(i + 1) === RBRACKET) break;
      }
      i += 2;
    }
  }
  return negated ? FAIL : i;
}

/**
 * Whether `name` matches `pattern` under fnmatch(pattern, name, FNM_PERIOD) in the C
 * locale.  Neither may contain a NUL byte (C strings end there).
 */
export function fnmatch(pattern: Uint8Array, name: Uint8Array): boolean {
  const plen = pattern.length;
  const slen = name.length;
  const leadingDot = slen > 0 && name[0] === DOT;
  let pi = 0;
  let si = 0;
  // The single backtracking point: just after the last '*', and where it started.
  let starP = -1;
  let starS = 0;
  for (;;) {
    if (pi < plen) {
      const c = pattern[pi];
      if (c === STAR) {
        if (si === 0 && leadingDot) return false;
        while (pi < plen && pattern[pi] === STAR) pi++;
        starP = pi;
        starS = si;
        continue;
      }
      const next = si < slen ? matchOne(pattern, pi, name[si], si === 0 && leadingDot) : FAIL;
      if (next >= 0) {
        pi = next;
        si++;
        continue;
      }
    } else if (si === slen) {
      return true;
    }
    // This position failed: let the last '*' swallow one more byte, if it can.
    if (starP < 0 || starS >= slen) return false;
    starS++;
    si = starS;
    pi = starP;
  }
}

/** Matches the one-byte pattern element at p[pi]; returns the next index or FAIL. */
function matchOne(p: Uint8Array, pi: number, ch: number, protectedDot: boolean): number {
  const c = p[pi];
  if (c === QUESTION) return protectedDot ? FAIL : pi + 1;
  if (c === BACKSLASH) {
    if (pi + 1 >= p.length) return FAIL;
    return p[pi + 1] === ch ? pi + 2 : FAIL;
  }
  if (c === LBRACKET) {
    if (protectedDot) return FAIL;
    const r = bracket(p, pi, ch);
    if (r === LITERAL) return ch === LBRACKET ? pi + 1 : FAIL;
    return r;
  }
  return c === ch ? pi + 1 : FAIL;
}
