// `.caexclude` files (casync-format.md §7.1): which children of a directory casync
// leaves out of an archive.
//
// A file holds one pattern a line.  casync splits lines at '\n' and at NUL bytes,
// strips spaces and tabs only (a CRLF file keeps its '\r' as part of the pattern),
// skips empty lines and '#' comments, and takes a leading '!' as negation.  A '/'
// anywhere in the rest anchors the pattern to the directory holding the file;
// otherwise it applies in that directory and every directory below.  A pattern is
// split at '/' into components: all but the last are stepping stones into
// subdirectories ("a/b/*.txt"), and a component followed by '/' matches directories
// only.  Each component is matched against one name with fnmatch(FNM_PERIOD).
//
// The rules for a directory's children are the union of (a) every unanchored pattern
// from the directories above, (b) what is left of multi-component patterns whose
// earlier components matched the path so far, and (c) the directory's own file.  A
// child is excluded when a positive pattern of that union matches it and no negative
// one does: negatives win, whichever level they come from.  ExcludeRules is that
// union, immutable, handed down the tree with `enter`.

import { formatError } from '../errors.ts';
import { fnmatch } from './exclude-fnmatch.ts';

export type ExcludeRuleKind = 'positive' | 'negative' | 'inner';

/** One pattern component, as casync's CaMatch nodes hold them. */
export interface ExcludeRule {
  readonly kind: ExcludeRuleKind;
  readonly glob: Uint8Array;
  /** applies to this directory's children only, not below */
  readonly anchored: boolean;
  readonly directoryOnly: boolean;
  /** inner rules: the rest of the pattern, for the matching subdirectory's children */
  readonly rest: readonly ExcludeRule[];
}

/** casync reads lines of at most this many bytes; longer ones fail the file. */
const LINE_MAX = 64 * 1024 - 1;

const SLASH = 0x2f;
const DOT = 0x2e;

const isBlank = (c: number) => c === 0x20 || c === 0x09;

/**
 * Parses `.caexclude` content into rules.  `fileName` is only for messages: an
 * invalid line (empty, "." or ".." components; over-long lines) fails the whole
 * file, as casync fails the whole archive.
 */
export function parseExcludeFile(content: Uint8Array, fileName: string): readonly ExcludeRule[] {
  const rules: ExcludeRule[] = [];
  let lineNo = 0;
  let start = 0;
  while (start < content.length) {
    let end = start;
    while (end < content.length && content[end] !== 0x0a && content[end] !== 0) end++;
    lineNo++;
    const fail = (why: string) => formatError(fileName, start, `line ${lineNo}: ${why}`);
    if (end - start > LINE_MAX) throw fail(`line longer than ${LINE_MAX} bytes`);
    let a = start;
    let b = end;
    while (a < b && isBlank(content[a])) a++;
    while (b > a && isBlank(content[b - 1])) b--;
    if (a < b && content[a] !== 0x23) {
      const rule = parsePattern(content.subarray(a, b));
      if (typeof rule === 'string') {
        throw fail(`invalid pattern "${latin1(content.subarray(a, b))}": ${rule}`);
      }
      rules.push(rule);
    }
    start = end + 1;
  }
  return rules;
}

/** One stripped line as a rule chain, or why it is invalid. */
function parsePattern(line: Uint8Array): ExcludeRule | string {
  let p = 0;
  let kind: ExcludeRuleKind = 'positive';
  if (line[0] === 0x21) {
    kind = 'negative';
    p = 1;
  }
  let anchored = line.indexOf(SLASH, p) >= 0;
  while (p < line.length && line[p] === SLASH) p++;
  const parts: { glob: Uint8Array; anchored: boolean; directoryOnly: boolean }[] = [];
  for (;;) {
    let k = p;
    while (k < line.length && line[k] !== SLASH) k++;
    const glob = line.subarray(p, k);
    if (glob.length === 0) return 'empty path component';
    if (glob.length === 1 && glob[0] === DOT) return '"." component';
    if (glob.length === 2 && glob[0] === DOT && glob[1] === DOT) return '".." component';
    const directoryOnly = k < line.length;
    p = k;
    while (p < line.length && line[p] === SLASH) p++;
    parts.push({ glob: Uint8Array.from(glob), anchored, directoryOnly });
    if (p >= line.length) break;
    // Components after the first only ever apply one level further down.
    anchored = true;
  }
  let rule: ExcludeRule | null = null;
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i];
    rule = rule
      ? { kind: 'inner', ...part, rest: [rule] }
      : { kind, ...part, rest: [] };
  }
  return rule!;
}

function checkName(name: Uint8Array): void {
  const bad =
    name.length === 0 ||
    name.includes(SLASH) ||
    name.includes(0) ||
    (name[0] === DOT && (name.length === 1 || (name.length === 2 && name[1] === DOT)));
  if (bad) throw new TypeError(`not a file name: ${JSON.stringify(latin1(name))}`);
}

/** The outcome of testing one child: whether it is left out, and its own rules. */
export interface ExcludeTest {
  excluded: boolean;
  /** rules for the child's children (directories that are kept); empty otherwise */
  rules: ExcludeRules;
}

/** The exclusion rules in force for one directory's children. */
export class ExcludeRules {
  private static readonly EMPTY = new ExcludeRules([]);

  private constructor(private readonly rules: readonly ExcludeRule[]) {}

  /** No rules: the archive root before its own `.caexclude` is read. */
  static root(): ExcludeRules {
    return ExcludeRules.EMPTY;
  }

  /** Whether nothing can be excluded here or below. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * These rules plus a `.caexclude` file found in this directory; `fileName` names it
   * in errors.  Throws a format error for an invalid file.
   */
  withFile(content: Uint8Array, fileName: string): ExcludeRules {
    const own = parseExcludeFile(content, fileName);
    return own.length ? new ExcludeRules([...this.rules, ...own]) : this;
  }

  /** Whether the child `name` (raw bytes) is left out of the archive. */
  excludes(name: Uint8Array, isDirectory: boolean): boolean {
    checkName(name);
    let positive = false;
    for (const r of this.rules) {
      if (r.kind === 'inner' || (r.directoryOnly && !isDirectory)) continue;
      if (!fnmatch(r.glob, name)) continue;
      if (r.kind === 'negative') return false;
      positive = true;
    }
    return positive;
  }

  /**
   * The rules for the children of subdirectory `name`: every unanchored rule, and the
   * rest of each multi-component pattern whose component matches `name`.
   */
  enter(name: Uint8Array): ExcludeRules {
    checkName(name);
    const next: ExcludeRule[] = [];
    for (const r of this.rules) {
      if (!r.anchored) next.push(r);
      if (r.kind === 'inner' && fnmatch(r.glob, name)) next.push(...r.rest);
    }
    return next.length ? new ExcludeRules(next) : ExcludeRules.EMPTY;
  }

  /** excludes() and, for a kept directory, enter() in one call. */
  test(name: Uint8Array, isDirectory: boolean): ExcludeTest {
    const excluded = this.excludes(name, isDirectory);
    return {
      excluded,
      rules: !excluded && isDirectory ? this.enter(name) : ExcludeRules.EMPTY,
    };
  }
}

/** Each byte as the code point of the same value, for messages about names that
 * need not be UTF-8.  Not TextDecoder('latin1'): that is windows-1252, which
 * maps 0x80-0x9f elsewhere. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}
