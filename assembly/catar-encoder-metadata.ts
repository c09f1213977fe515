// A node's variable metadata while the host hands it over: extended attributes
// and ACL entries, kept until the node's records are written, then sorted and
// serialized the way casync does (casync-format.md §4.2, §4.3).
//
// Layout of the records written here:
//   XATTR              header, name + NUL, raw value
//   ACL_USER/_GROUP    header, LE64 id, LE64 permissions, [name + NUL]
//   (and the same for ACL_DEFAULT_USER/_GROUP)
// Strings live in one pool; xattrs and ACL entries are fixed-size records that
// point into it, so sorting moves 16 or 20 bytes, never the strings.

import { Bytes, compareBytes, sortRecords } from './catar-encoder-buffer';
import {
  CA_FORMAT_ACL_DEFAULT_GROUP, CA_FORMAT_ACL_DEFAULT_USER, CA_FORMAT_ACL_GROUP, CA_FORMAT_ACL_USER,
  CA_FORMAT_USER_NAME_MAX, CA_FORMAT_XATTR, CA_FORMAT_XATTR_NAME_MAX, E_XATTR_DUPLICATE,
} from './catar-encoder-format';

export const NO_NAME: u32 = 0xffffffff;

/** ACL entry kinds, in the order their records are written. */
export const ACL_USER: u32 = 0;
export const ACL_GROUP: u32 = 1;
export const ACL_DEFAULT_USER: u32 = 2;
export const ACL_DEFAULT_GROUP: u32 = 3;

const XATTR_REC: usize = 16; // name offset, name length, value offset, value length
const ACL_REC: usize = 20; // kind, stored id, permissions, name offset, name length (or NO_NAME)

export const pool = new Bytes(1024);
const xattrs = new Bytes(XATTR_REC * 16);
const acls = new Bytes(ACL_REC * 16);

export function resetMetadata(): void {
  pool.reset();
  xattrs.reset();
  acls.reset();
}

/** Copies `n` bytes into the pool and returns their pool offset. */
export function keep(src: usize, n: usize): u32 {
  const off = <u32>pool.len;
  pool.bytes(src, n);
  return off;
}

/**
 * casync stores only valid names (non-empty, a '.' neither first nor last, at
 * most 255 bytes) in the user and trusted namespaces; the rest is skipped silently.
 */
export function xattrStored(name: usize, n: usize): bool {
  if (n == 0 || n > CA_FORMAT_XATTR_NAME_MAX) return false;
  let dot: isize = -1;
  for (let i: usize = 0; i < n; i++) {
    if (load<u8>(name + i) == 0x2e) {
      dot = <isize>i;
      break;
    }
  }
  if (dot <= 0 || <usize>dot == n - 1) return false;
  return startsWith(name, n, 'user.') || startsWith(name, n, 'trusted.');
}

function startsWith(p: usize, n: usize, prefix: string): bool {
  const k = <usize>prefix.length;
  if (n < k) return false;
  for (let i: usize = 0; i < k; i++) if (<i32>load<u8>(p + i) != prefix.charCodeAt(<i32>i)) return false;
  return true;
}

export function addXattr(name: usize, nameLen: usize, value: usize, valueLen: usize): void {
  const r = xattrs.reserve(XATTR_REC);
  xattrs.len += XATTR_REC;
  store<u32>(r, keep(name, nameLen));
  store<u32>(r, <u32>nameLen, 4);
  store<u32>(r, keep(value, valueLen), 8);
  store<u32>(r, <u32>valueLen, 12);
}

function compareXattrs(a: usize, b: usize): i32 {
  return compareBytes(pool.ptr + load<u32>(a), load<u32>(a, 4), pool.ptr + load<u32>(b), load<u32>(b, 4));
}

/** The XATTR records in strcmp order of their names; E_XATTR_DUPLICATE if a name repeats. */
export function writeXattrs(out: Bytes): i32 {
  const n = xattrs.len / XATTR_REC;
  sortRecords(xattrs.ptr, n, XATTR_REC, compareXattrs);
  for (let i: usize = 0; i < n; i++) {
    const r = xattrs.ptr + i * XATTR_REC;
    if (i > 0 && compareXattrs(r - XATTR_REC, r) == 0) return E_XATTR_DUPLICATE;
    const nameLen = <usize>load<u32>(r, 4);
    const valueLen = <usize>load<u32>(r, 12);
    out.header(<u64>(16 + nameLen + 1 + valueLen), CA_FORMAT_XATTR);
    out.bytes(pool.ptr + load<u32>(r), nameLen);
    out.u8(0);
    out.bytes(pool.ptr + load<u32>(r, 8), valueLen);
  }
  return 0;
}

/**
 * Whether casync's reader accepts this as a user or group name: a letter or '_'
 * first, then letters, digits, '_' or '-', at most 255 bytes, and never "root"
 * (root is implied by id 0 and its name is never written).
 */
export function validUserName(p: usize, n: usize): bool {
  if (n == 0 || n > CA_FORMAT_USER_NAME_MAX) return false;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
    const more = (c >= 0x30 && c <= 0x39) || c == 0x2d;
    if (!letter && (i == 0 || !more)) return false;
  }
  return !(n == 4 && load<u32>(p) == 0x746f6f72); // "root"
}

/** Stages one named ACL entry; `id` is what gets stored (0 without uid flags). */
export function addAcl(kind: u32, id: u32, perm: u32, name: usize, nameLen: u32): void {
  const r = acls.reserve(ACL_REC);
  acls.len += ACL_REC;
  store<u32>(r, kind);
  store<u32>(r, id, 4);
  store<u32>(r, perm, 8);
  store<u32>(r, nameLen == NO_NAME ? 0 : keep(name, nameLen), 12);
  store<u32>(r, nameLen, 16);
}

// casync's order within each kind: id, then entries without a name, then name
// (strcmp), then permissions.
function compareAcls(a: usize, b: usize): i32 {
  for (let f: usize = 0; f < 8; f += 4) {
    const x = load<u32>(a + f);
    const y = load<u32>(b + f);
    if (x != y) return x < y ? -1 : 1;
  }
  const an = load<u32>(a, 16);
  const bn = load<u32>(b, 16);
  if (an == NO_NAME || bn == NO_NAME) {
    if (an != bn) return an == NO_NAME ? -1 : 1;
  } else {
    const c = compareBytes(pool.ptr + load<u32>(a, 12), an, pool.ptr + load<u32>(b, 12), bn);
    if (c != 0) return c;
  }
  const ap = load<u32>(a, 8);
  const bp = load<u32>(b, 8);
  return ap < bp ? -1 : ap > bp ? 1 : 0;
}

export function sortAcls(): void {
  sortRecords(acls.ptr, acls.len / ACL_REC, ACL_REC, compareAcls);
}

/** The sorted ACL records of one kind (ACL_USER … ACL_DEFAULT_GROUP). */
export function writeAcls(kind: u32, out: Bytes): void {
  const type = kind == ACL_USER ? CA_FORMAT_ACL_USER
    : kind == ACL_GROUP ? CA_FORMAT_ACL_GROUP
    : kind == ACL_DEFAULT_USER ? CA_FORMAT_ACL_DEFAULT_USER
    : CA_FORMAT_ACL_DEFAULT_GROUP;
  const n = acls.len / ACL_REC;
  for (let i: usize = 0; i < n; i++) {
    const r = acls.ptr + i * ACL_REC;
    if (load<u32>(r) != kind) continue;
    const nameLen = load<u32>(r, 16);
    const named = nameLen != NO_NAME;
    out.header(<u64>(32 + (named ? nameLen + 1 : 0)), type);
    out.u64(<u64>load<u32>(r, 4));
    out.u64(<u64>load<u32>(r, 8));
    if (named) {
      out.bytes(pool.ptr + load<u32>(r, 12), nameLen);
      out.u8(0);
    }
  }
}
