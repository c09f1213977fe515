// The small textual pieces that `casync list`, `mtree` and `stat` share
// (casync-format.md §6, §7.3): byte escaping, the ls-style mode string, and the
// letter strings for chattr and FAT attributes.
//
// Escaping works on raw bytes, so names that are not UTF-8 come out exactly as
// casync prints them: every byte <= 0x20 or >= 0x7f, and '\' and '#', becomes a
// backslash and three octal digits.  Everything these functions return is ASCII.

import {
  CA_FORMAT_WITH_FLAG_APPEND,
  CA_FORMAT_WITH_FLAG_ARCHIVE,
  CA_FORMAT_WITH_FLAG_COMPR,
  CA_FORMAT_WITH_FLAG_DIRSYNC,
  CA_FORMAT_WITH_FLAG_HIDDEN,
  CA_FORMAT_WITH_FLAG_IMMUTABLE,
  CA_FORMAT_WITH_FLAG_NOATIME,
  CA_FORMAT_WITH_FLAG_NOCOMP,
  CA_FORMAT_WITH_FLAG_NOCOW,
  CA_FORMAT_WITH_FLAG_NODUMP,
  CA_FORMAT_WITH_FLAG_PROJINHERIT,
  CA_FORMAT_WITH_FLAG_SYNC,
  CA_FORMAT_WITH_FLAG_SYSTEM,
} from '../format/feature-flags.ts';
import { toHex } from '../chunk/chunk-id.ts';

export type Bytes = Uint8Array | string;

const encoder = new TextEncoder();
export const toBytes = (b: Bytes): Uint8Array => (typeof b === 'string' ? encoder.encode(b) : b);

const ascii = new TextDecoder();
const escaped = (c: number) => c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x23;
const ESCAPES = Array.from({ length: 256 }, (_, c) => '\\' + c.toString(8).padStart(3, '0'));

/**
 * casync's mtree_escape: the bytes with <= 0x20, >= 0x7f, '\' and '#' as \ooo.
 * The runs between escapes are decoded whole (they are ASCII): a string built a
 * character at a time is a rope as long as the path, and paths can be 20,000
 * bytes long (a tree 10,000 directories deep).
 */
export function escapeBytes(input: Bytes): string {
  const b = toBytes(input);
  let parts: string[] | null = null;
  let run = 0;
  for (let i = 0; i < b.length; i++) {
    if (!escaped(b[i])) continue;
    parts ??= [];
    if (i > run) parts.push(ascii.decode(b.subarray(run, i)));
    parts.push(ESCAPES[b[i]]);
    run = i + 1;
  }
  if (!parts) return ascii.decode(b);
  if (run < b.length) parts.push(ascii.decode(b.subarray(run)));
  return parts.join('');
}

/** A path as list/mtree/stat print it: escaped, the root (empty or ".") as ".". */
export function escapePath(path: Bytes): string {
  const b = toBytes(path);
  if (b.length === 0 || (b.length === 1 && b[0] === 0x2e)) return '.';
  return escapeBytes(b);
}

const S_IFMT = 0o170000;
const TYPE_CHARS: Record<number, string> = {
  0o140000: 's',
  0o040000: 'd',
  0o100000: '-',
  0o060000: 'b',
  0o020000: 'c',
  0o120000: 'l',
  0o010000: 'p',
};

export const isDirMode = (mode: number) => (mode & S_IFMT) === 0o040000;
export const isRegMode = (mode: number) => (mode & S_IFMT) === 0o100000;

/**
 * casync's ls_format_mode: type letter and three rwx triplets, setuid/setgid as s/S
 * and the sticky bit as t/T only on directories (elsewhere it is ignored).  Null for
 * an unknown file type.
 */
export function formatLsMode(mode: number): string | null {
  const type = TYPE_CHARS[mode & S_IFMT];
  if (type === undefined) return null;
  const exec = (bit: number, special: boolean, on: string, off: string) =>
    special ? (mode & bit ? on : off) : mode & bit ? 'x' : '-';
  return (
    type +
    (mode & 0o400 ? 'r' : '-') +
    (mode & 0o200 ? 'w' : '-') +
    exec(0o100, (mode & 0o4000) !== 0, 's', 'S') +
    (mode & 0o040 ? 'r' : '-') +
    (mode & 0o020 ? 'w' : '-') +
    exec(0o010, (mode & 0o2000) !== 0, 's', 'S') +
    (mode & 0o004 ? 'r' : '-') +
    (mode & 0o002 ? 'w' : '-') +
    exec(0o001, isDirMode(mode) && (mode & 0o1000) !== 0, 't', 'T')
  );
}

// lsattr's letters, in casync's order; 'N' (nocomp) is casync's own invention.
const CHATTR_LETTERS: readonly (readonly [bigint, string])[] = [
  [CA_FORMAT_WITH_FLAG_SYNC, 'S'],
  [CA_FORMAT_WITH_FLAG_DIRSYNC, 'D'],
  [CA_FORMAT_WITH_FLAG_IMMUTABLE, 'i'],
  [CA_FORMAT_WITH_FLAG_APPEND, 'a'],
  [CA_FORMAT_WITH_FLAG_NODUMP, 'd'],
  [CA_FORMAT_WITH_FLAG_NOATIME, 'A'],
  [CA_FORMAT_WITH_FLAG_COMPR, 'c'],
  [CA_FORMAT_WITH_FLAG_NOCOMP, 'N'],
  [CA_FORMAT_WITH_FLAG_NOCOW, 'C'],
  [CA_FORMAT_WITH_FLAG_PROJINHERIT, 'P'],
];

const FAT_LETTERS: readonly (readonly [bigint, string])[] = [
  [CA_FORMAT_WITH_FLAG_HIDDEN, 'h'],
  [CA_FORMAT_WITH_FLAG_SYSTEM, 's'],
  [CA_FORMAT_WITH_FLAG_ARCHIVE, 'a'],
];

const letters = (table: readonly (readonly [bigint, string])[], flags: bigint) =>
  table.map(([f, l]) => (flags & f ? l : '-')).join('');

/** The "FileAttr:" string of `casync stat` for ENTRY flags (as feature-flag bits). */
export const formatChattrLetters = (flags: bigint) => letters(CHATTR_LETTERS, flags);

/** The "FATAttr:" string of `casync stat`. */
export const formatFatAttrLetters = (flags: bigint) => letters(FAT_LETTERS, flags);

/** Lowercase hex of a digest (the same table chunk ids are named with). */
export const hex = toHex;
