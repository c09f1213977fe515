// The headers of a POSIX.1-2001 (pax) tar stream, for `extract --output-format=tar`.
//
// Layout: per entry an optional pax extended header, then a ustar header, then
// the payload padded to 512 bytes; the stream ends with two zero blocks.
//   ustar header (512 bytes; numbers octal, NUL-terminated; strings raw bytes):
//     0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]  136 mtime[12]
//     148 chksum[8] (the header's byte sum, taken with the field as 8 spaces)
//     156 typeflag  157 linkname[100]  257 "ustar\0" "00"  265 uname[32]  297 gname[32]
//     329 devmajor[8]  337 devminor[8]  345 prefix[155]  (path = prefix "/" name)
//   pax extended header: a ustar header of type 'x' whose payload is records
//     "LEN KEY=VALUE\n", LEN counting the whole record in decimal; the values
//     override the next ustar header's fields.  Used where ustar cannot say it:
//     path and linkpath beyond its fields, ids and sizes beyond their octal
//     digits, names beyond 32 bytes, mtime with nanoseconds or before 1970, and
//     what ustar has no field for: SCHILY.xattr.NAME (the raw value),
//     SCHILY.acl.access and SCHILY.acl.default (the text form GNU tar writes
//     with --acls --numeric-owner and reads with --acls), SCHILY.devmajor/minor.
// Values are raw bytes: paths and xattr values that are not UTF-8 go through
// unchanged, as GNU tar writes and reads them.

import type { CatarAcl, CatarAclEntry } from './catar-node.ts';
import { concat } from './tar-fields.ts';

export const TAR_BLOCK = 512;

export type TarType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo';

const TYPEFLAG: Record<TarType, string> = { file: '0', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' };

export interface TarEntry {
  /** the path in the archive (a directory's without its trailing slash) */
  path: Uint8Array;
  type: TarType;
  /** permission bits (07777) */
  mode: number;
  uid: number;
  gid: number;
  userName: string | null;
  groupName: string | null;
  /** signed nanoseconds since the epoch */
  mtimeNs: bigint;
  /** regular files: the payload's size */
  size?: number;
  /** symlinks */
  target?: Uint8Array;
  /** block and character devices */
  rdev?: { major: number; minor: number };
  xattrs?: readonly { name: Uint8Array; value: Uint8Array }[];
  /** the text forms (aclText) */
  aclAccess?: string | null;
  aclDefault?: string | null;
}

const utf8 = new TextEncoder();
const SLASH = 0x2f;

/** The headers that precede `e`'s payload: a pax extended header where needed, and the ustar header. */
export function tarHeaders(e: TarEntry): Uint8Array {
  const pax: Uint8Array[] = [];
  const record = (key: string | Uint8Array, value: string | Uint8Array) => pax.push(paxRecord(key, value));
  const h = new Uint8Array(TAR_BLOCK);
  const path = e.type === 'directory' ? concat(e.path, Uint8Array.of(SLASH)) : e.path;
  const split = splitPath(path);
  if (split) {
    h.set(split.name, 0);
    h.set(split.prefix, 345);
  } else {
    record('path', path);
    h.set(path.subarray(0, 100), 0);
  }
  octal(h, 100, 8, e.mode & 0o7777);
  if (!octal(h, 108, 8, e.uid)) record('uid', String(e.uid));
  if (!octal(h, 116, 8, e.gid)) record('gid', String(e.gid));
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  if (!octal(h, 124, 12, size)) record('size', String(size));
  const seconds = e.mtimeNs / 1_000_000_000n - (e.mtimeNs < 0n && e.mtimeNs % 1_000_000_000n !== 0n ? 1n : 0n);
  if (!octal(h, 136, 12, seconds) || seconds * 1_000_000_000n !== e.mtimeNs) record('mtime', paxTime(e.mtimeNs));
  h[156] = TYPEFLAG[e.type].charCodeAt(0);
  if (e.target) {
    h.set(e.target.subarray(0, 100), 157);
    if (e.target.length > 100) record('linkpath', e.target);
  }
  h.set(utf8.encode('ustar\u000000'), 257);
  nameField(h, 265, e.userName, 'uname', record);
  nameField(h, 297, e.groupName, 'gname', record);
  if (e.rdev) {
    if (!octal(h, 329, 8, e.rdev.major)) record('SCHILY.devmajor', String(e.rdev.major));
    if (!octal(h, 337, 8, e.rdev.minor)) record('SCHILY.devminor', String(e.rdev.minor));
  }
  if (e.aclAccess) record('SCHILY.acl.access', e.aclAccess);
  if (e.aclDefault) record('SCHILY.acl.default', e.aclDefault);
  for (const x of e.xattrs ?? []) record(concat(utf8.encode('SCHILY.xattr.'), x.name), x.value);
  checksum(h);
  if (!pax.length) return h;
  const body = concat(...pax);
  const x = new Uint8Array(TAR_BLOCK);
  // GNU tar's name for it: DIR/PaxHeaders/BASE (informative only).
  const base = path.subarray(path.lastIndexOf(SLASH, path.length - 2) + 1);
  x.set(concat(utf8.encode('PaxHeaders/'), base).subarray(0, 100), 0);
  octal(x, 100, 8, 0o644);
  octal(x, 108, 8, 0);
  octal(x, 116, 8, 0);
  if (!octal(x, 124, 12, body.length)) throw new RangeError('pax header too large');
  octal(x, 136, 12, seconds < 0n ? 0n : seconds > 0o77777777777n ? 0o77777777777n : seconds);
  x[156] = 'x'.charCodeAt(0);
  x.set(utf8.encode('ustar\u000000'), 257);
  checksum(x);
  return concat(x, body, new Uint8Array(padding(body.length)), h);
}

/** Zero bytes after a payload of `size` bytes, to the next block. */
export const padding = (size: number) => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

/** The end of the stream: two zero blocks. */
export const tarEnd = () => new Uint8Array(2 * TAR_BLOCK);

/**
 * A node's ACLs in the text form GNU tar reads with --acls (acl_from_text),
 * numeric ids as it writes them with --numeric-owner; null for none.  The
 * owner, other and (with a mask) mask permissions are the mode's, as casync
 * keeps them; a trivial access ACL is left out, as GNU tar leaves it out.
 */
export function aclText(mode: number, acl: CatarAcl | null): { access: string | null; default: string | null } {
  if (!acl) return { access: null, default: null };
  const perm = (p: number) => `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`;
  const named = (tag: string, entries: readonly CatarAclEntry[]) => entries.map((e) => `${tag}:${e.id}:${perm(e.perm)}\n`).join('');
  let access: string | null = null;
  if (acl.groupObj !== null || acl.user.length || acl.group.length) {
    access =
      `user::${perm(mode >> 6)}\n${named('user', acl.user)}` +
      `group::${perm(acl.groupObj ?? mode >> 3)}\n${named('group', acl.group)}` +
      `mask::${perm(mode >> 3)}\nother::${perm(mode)}\n`;
  }
  const d = acl.default;
  let dflt: string | null = null;
  if (d && d.userObj !== null) {
    dflt =
      `user::${perm(d.userObj)}\n${named('user', d.user)}` +
      `group::${perm(d.groupObj ?? 0)}\n${named('group', d.group)}` +
      (d.mask === null ? '' : `mask::${perm(d.mask)}\n`) +
      `other::${perm(d.other ?? 0)}\n`;
  }
  return { access, default: dflt };
}

/** "LEN KEY=VALUE\n", LEN the record's own length. */
function paxRecord(key: string | Uint8Array, value: string | Uint8Array): Uint8Array {
  const k = typeof key === 'string' ? utf8.encode(key) : key;
  const v = typeof value === 'string' ? utf8.encode(value) : value;
  const rest = k.length + v.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length + rest !== len) len++;
  return concat(utf8.encode(`${len} `), k, utf8.encode('='), v, utf8.encode('\n'));
}

/** pax's decimal seconds with nanoseconds ("-1.5" for 1.5 s before the epoch). */
function paxTime(ns: bigint): string {
  const abs = ns < 0n ? -ns : ns;
  const frac = String(abs % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return `${ns < 0n ? '-' : ''}${abs / 1_000_000_000n}${frac ? `.${frac}` : ''}`;
}

/** Octal digits filling the field but its last byte (NUL); false if `v` does not fit (the field is left zero). */
function octal(h: Uint8Array, at: number, width: number, v: number | bigint): boolean {
  const digits = BigInt(v) >= 0n ? BigInt(v).toString(8) : null;
  if (digits === null || digits.length > width - 1) {
    h.set(utf8.encode('0'.repeat(width - 1)), at);
    return false;
  }
  h.set(utf8.encode(digits.padStart(width - 1, '0')), at);
  return true;
}

function nameField(h: Uint8Array, at: number, name: string | null, key: string, record: (k: string, v: string) => void) {
  if (name === null) return;
  const b = utf8.encode(name);
  if (b.length < 32) h.set(b, at); // and its NUL
  else record(key, name);
}

/** A path as ustar's prefix and name, split at a slash, or null if it does not fit them. */
function splitPath(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | null {
  if (path.length <= 100) return { prefix: new Uint8Array(0), name: path };
  // The last slash that leaves at most 155 bytes before it and 100 after (a directory's own trailing one excluded).
  for (let i = Math.min(155, path.length - 2); i > 0; i--) {
    if (path[i] !== SLASH) continue;
    if (path.length - i - 1 > 100) return null;
    return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
  }
  return null;
}

function checksum(h: Uint8Array) {
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(utf8.encode(`${sum.toString(8).padStart(6, '0')}\u0000 `), 148);
}
