// Validation of one node's records (casync-format.md §4.2–§4.5), as casync's
// decoder does it plus the checks wasync adds for safety.
//
// A node is ENTRY, then metadata records in a fixed order, then its body.  The
// order is a strict ranking (casync refuses every record that comes after one of
// a later kind), so one rank number replaces casync's set of "seen" flags: a
// record must rank above the previous one, or equal it for the repeatable kinds
// (XATTR and the four named ACL kinds), which must then be strictly sorted.
// Checks that depend on the node's type are made at the record that breaks them,
// so the error offset points at the offending record.  Each valid record then
// becomes one event for the host (recordEvent).

import {
  CA_FORMAT_ACL_DEFAULT, CA_FORMAT_ACL_DEFAULT_GROUP, CA_FORMAT_ACL_DEFAULT_USER, CA_FORMAT_ACL_GROUP,
  CA_FORMAT_ACL_GROUP_OBJ, CA_FORMAT_ACL_USER, CA_FORMAT_DEVICE, CA_FORMAT_ENTRY, CA_FORMAT_FCAPS,
  CA_FORMAT_GROUP, CA_FORMAT_QUOTA_PROJID, CA_FORMAT_SELINUX, CA_FORMAT_SYMLINK, CA_FORMAT_USER,
  CA_FORMAT_XATTR, HAVE_ACL_NAMED, HAVE_DEFAULT, HAVE_DEFAULT_NAMED, HAVE_GROUP_OBJ,
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, St, CA_FORMAT_WITH_16BIT_UIDS,
  CA_FORMAT_WITH_32BIT_UIDS, CA_FORMAT_WITH_ACL, CA_FORMAT_WITH_DEVICE_NODES, CA_FORMAT_WITH_FCAPS, CA_FORMAT_WITH_QUOTA_PROJID, CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_SYMLINKS, CA_FORMAT_WITH_USER_NAMES, CA_FORMAT_WITH_XATTRS, R_N0, compareBytes, fail, putName,
  EV_ACL_DEFAULT, EV_ACL_DEFAULT_GROUP, EV_ACL_DEFAULT_USER, EV_ACL_GROUP, EV_ACL_GROUP_OBJ, EV_ACL_USER,
  EV_ERROR, EV_FCAPS, EV_GROUP, EV_NODE, EV_QUOTA_PROJID, EV_SELINUX, EV_USER, EV_XATTR, R_OFFSET, put,
} from './catar-decoder-state';

/** Rank of a metadata record kind in §4.3 order, or -1 for anything else. */
export function rankOf(t: u64): i32 {
  if (t == CA_FORMAT_ENTRY) return 0;
  if (t == CA_FORMAT_USER) return 1;
  if (t == CA_FORMAT_GROUP) return 2;
  if (t == CA_FORMAT_XATTR) return 3;
  if (t == CA_FORMAT_ACL_USER) return 4;
  if (t == CA_FORMAT_ACL_GROUP) return 5;
  if (t == CA_FORMAT_ACL_GROUP_OBJ) return 6;
  if (t == CA_FORMAT_ACL_DEFAULT) return 7;
  if (t == CA_FORMAT_ACL_DEFAULT_USER) return 8;
  if (t == CA_FORMAT_ACL_DEFAULT_GROUP) return 9;
  if (t == CA_FORMAT_SELINUX) return 10;
  if (t == CA_FORMAT_FCAPS) return 11;
  if (t == CA_FORMAT_QUOTA_PROJID) return 12;
  return -1;
}

const repeatable = (r: i32): bool => r == 3 || r == 4 || r == 5 || r == 8 || r == 9;
const isType = (m: u64, t: u64): bool => (m & S_IFMT) == t;

/** Smallest and largest whole-record size of each buffered kind (header included). */
function sizeOk(min: u64, max: u64): bool {
  const l = St.recSize;
  if (min == max && l != min) return fail('{r0} record of {d1} bytes, must be exactly {d2}', St.recType, l, min);
  if (l < min) return fail('{r0} record of {d1} bytes is too small (at least {d2})', St.recType, l, min);
  if (l > max) return fail('{r0} record of {d1} bytes is too large (at most {d2})', St.recType, l, max);
  return true;
}

/**
 * Checks a metadata record's header (St.recType, St.recSize) against the node so
 * far: order, size, the archive's feature flags and the node's file type.
 */
export function metadataHeaderOk(): bool {
  const t = St.recType;
  const r = rankOf(t);
  if (r == St.rank && !repeatable(r)) return fail('duplicate {r0} record', t);
  if (r < St.rank) return fail('{r0} record after {r1} (out of order)', t, St.lastType);
  const f = St.flags;
  const m = St.mode;
  if (r == 1 || r == 2) {
    if (!(f & CA_FORMAT_WITH_USER_NAMES)) return fail('{r0} record but the feature flags lack user-names', t);
    return sizeOk(18, 16 + 256);
  }
  if (r == 3) {
    if (!(f & CA_FORMAT_WITH_XATTRS)) return fail('XATTR record but the feature flags lack xattrs');
    if (isType(m, S_IFLNK)) return fail('XATTR record on a symlink');
    return sizeOk(16 + 4, 16 + 255 + 1 + 65536);
  }
  if (r >= 4 && r <= 9) {
    if (!(f & CA_FORMAT_WITH_ACL)) return fail('{r0} record but the feature flags lack acl', t);
    if (isType(m, S_IFLNK)) return fail('{r0} record on a symlink', t);
    if (r >= 7 && !isType(m, S_IFDIR)) return fail('{r0} record on a non-directory (mode {o1})', t, m);
    if (r == 6) return sizeOk(24, 24);
    if (r == 7) return sizeOk(48, 48);
    return sizeOk(32, 32 + 256);
  }
  if (r == 10) {
    if (!(f & CA_FORMAT_WITH_SELINUX)) return fail('SELINUX record but the feature flags lack selinux');
    return sizeOk(18, 16 + 4096);
  }
  if (r == 11) {
    if (!(f & CA_FORMAT_WITH_FCAPS)) return fail('FCAPS record but the feature flags lack fcaps');
    if (!isType(m, S_IFREG)) return fail('FCAPS record on a non-regular file (mode {o1})', t, m);
    return sizeOk(16, 16 + 65536);
  }
  if (!(f & CA_FORMAT_WITH_QUOTA_PROJID)) return fail('QUOTA_PROJID record but the feature flags lack quota-projid');
  if (!isType(m, S_IFREG) && !isType(m, S_IFDIR)) {
    return fail('QUOTA_PROJID record on a node that is neither a file nor a directory (mode {o1})', t, m);
  }
  return sizeOk(24, 24);
}

/** SYMLINK and DEVICE headers: the node must be of that type. */
export function bodyHeaderOk(): bool {
  const t = St.recType;
  const m = St.mode;
  if (t == CA_FORMAT_SYMLINK) {
    if (!isType(m, S_IFLNK)) return fail('SYMLINK record for a node that is not a symlink (mode {o1})', t, m);
    if (!(St.flags & CA_FORMAT_WITH_SYMLINKS)) return fail('SYMLINK record but the feature flags lack symlinks');
    return sizeOk(18, 16 + 4096);
  }
  if (!isType(m, S_IFCHR) && !isType(m, S_IFBLK)) {
    return fail('DEVICE record for a node that is not a device (mode {o1})', t, m);
  }
  if (!(St.flags & CA_FORMAT_WITH_DEVICE_NODES)) return fail('DEVICE record but the feature flags lack device-nodes');
  return sizeOk(32, 32);
}

/** A user or group name of `n` bytes including its NUL: [A-Za-z_][A-Za-z0-9_-]*, not "root". */
export function nameOk(p: usize, n: usize): bool {
  if (n < 2) return fail('empty user or group name in {r0} record', St.recType);
  if (load<u8>(p + n - 1) != 0) return fail('user or group name in {r0} record is not NUL-terminated', St.recType);
  for (let i: usize = 0; i < n - 1; i++) {
    const c = load<u8>(p + i);
    const alpha = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c == 0x5f;
    const more = (c >= 0x30 && c <= 0x39) || c == 0x2d;
    if (!alpha && (i == 0 || !more)) {
      return fail('invalid user or group name in {r0} record (byte {d1} is {x2})', St.recType, i, c);
    }
  }
  // casync never writes "root" (it is implied by id 0) and refuses it wherever it appears.
  if (n == 5 && load<u32>(p) == 0x746f6f72) return fail('user or group name "root" in {r0} record', St.recType);
  return true;
}

/**
 * The decimal id casync writes as the name of an owner it has no name for when
 * the archive keeps no ids.  casync's reader refuses it, although its
 * extraction means it (it parses a decimal name as the id); wasync reads it.
 */
function decimalIdName(p: usize, n: usize): bool {
  if ((St.flags & (CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS)) != 0 || n < 2 || n > 11) return false;
  if (load<u8>(p + n - 1) != 0 || (load<u8>(p) == 0x30 && n > 2)) return false;
  let v: u64 = 0;
  for (let i: usize = 0; i < n - 1; i++) {
    const c = load<u8>(p + i);
    if (c < 0x30 || c > 0x39) return false;
    v = v * 10 + <u64>(c - 0x30);
  }
  return v != 0 && v < 0xffffffff;
}

/** 16/32-bit ids: casync refuses (uid_t) -1 and, with 32-bit ids, 65535 too.  kind: 0 uid, 1 gid, 2 ACL. */
export function idOk(id: u64, kind: i32): bool {
  const f = St.flags;
  if (f & CA_FORMAT_WITH_16BIT_UIDS) {
    if (id < 0xffff) return true;
    if (kind == 0) return fail('uid {d0} is out of range for 16-bit uids (at most 65534)', id);
    if (kind == 1) return fail('gid {d0} is out of range for 16-bit uids (at most 65534)', id);
    return fail('ACL entry id {d0} is out of range for 16-bit uids (at most 65534)', id);
  }
  if (f & CA_FORMAT_WITH_32BIT_UIDS) {
    if (id < 0xffffffff && id != 0xffff) return true;
    if (kind == 0) return fail('uid {d0} is out of range for 32-bit uids (65535 and 2^32-1 are reserved)', id);
    if (kind == 1) return fail('gid {d0} is out of range for 32-bit uids (65535 and 2^32-1 are reserved)', id);
    return fail('ACL entry id {d0} is out of range for 32-bit uids (65535 and 2^32-1 are reserved)', id);
  }
  if (id == 0) return true;
  if (kind == 0) return fail('uid {d0} but the feature flags store no uids (must be 0)', id);
  if (kind == 1) return fail('gid {d0} but the feature flags store no uids (must be 0)', id);
  return fail('ACL entry id {d0} but the feature flags store no uids (must be 0)', id);
}

const permOk = (p: u64): bool => (p & ~<u64>7) == 0;

/** XATTR: a valid user.* or trusted.* name bounded within 256 bytes, strictly sorted. */
export function xattrOk(): bool {
  const body = St.rec + 16;
  const len = <usize>St.recSize - 16;
  const lim = len < 256 ? len : 256;
  let n: usize = 0;
  while (n < lim && load<u8>(body + n) != 0) n++;
  if (n == lim) return fail('XATTR name is not NUL-terminated within 256 bytes');
  let dot: usize = 0;
  while (dot < n && load<u8>(body + dot) != 0x2e) dot++;
  if (n == 0 || dot == n || dot == 0 || dot + 1 == n) return fail('invalid XATTR name (needs "namespace.name")');
  // casync stores only these namespaces; capabilities, ACLs and labels have their
  // own records, whose rules another namespace would bypass at extraction.
  const ns = load<u64>(body) & 0xffffffffff;
  if (!(dot == 4 && ns == 0x2e72657375) && !(dot == 7 && load<u64>(body) == 0x2e64657473757274)) {
    putName(R_N0, body, n);
    return fail('XATTR {n0} is outside the user. and trusted. namespaces');
  }
  if (St.prevKeyLen >= 0 && compareBytes(body, n, St.prevKey, <usize>St.prevKeyLen) <= 0) {
    return fail('XATTR names are not strictly sorted');
  }
  memory.copy(St.prevKey, body, n);
  St.prevKeyLen = <i32>n;
  return true;
}

/**
 * ACL_USER / ACL_GROUP and the default ones: id, permissions, optional name, and
 * strictly sorted by (id, no name before name, name, permissions) as casync sorts.
 */
export function aclEntryOk(): bool {
  const p = St.rec;
  const id = load<u64>(p + 16);
  const perm = load<u64>(p + 24);
  const n = <usize>St.recSize - 32;
  if (n > 0) {
    if (!(St.flags & CA_FORMAT_WITH_USER_NAMES)) return fail('named {r0} record but the feature flags lack user-names', St.recType);
    if (!nameOk(p + 32, n)) return false;
  }
  if (!idOk(id, 2)) return false;
  if (!permOk(perm)) return fail('ACL permissions {x1} in {r0} record', St.recType, perm);
  // Big-endian id, a has-name byte, the name with its NUL, big-endian permissions:
  // plain byte order over this key is casync's order.
  const key = St.prevKey + 512;
  store<u64>(key, bswap<u64>(id));
  store<u8>(key + 8, n > 0 ? 1 : 0);
  memory.copy(key + 9, p + 32, n);
  store<u64>(key + 9 + n, bswap<u64>(perm));
  const keyLen: usize = 17 + n;
  if (St.prevKeyLen >= 0 && compareBytes(key, keyLen, St.prevKey, <usize>St.prevKeyLen) <= 0) {
    return fail('{r0} records are not strictly sorted', St.recType);
  }
  memory.copy(St.prevKey, key, keyLen);
  St.prevKeyLen = <i32>keyLen;
  return true;
}

export function aclGroupObjOk(): bool {
  const perm = load<u64>(St.rec + 16);
  if (!permOk(perm)) return fail('ACL permissions {x1} in {r0} record', St.recType, perm);
  St.have |= HAVE_GROUP_OBJ;
  return true;
}

/** ACL_DEFAULT: user_obj, group_obj and other are required; the mask may be absent (all ones). */
export function aclDefaultOk(): bool {
  for (let i: usize = 0; i < 4; i++) {
    const perm = load<u64>(St.rec + 16 + (i << 3));
    if (i == 3 && perm == 0xffffffffffffffff) break;
    if (!permOk(perm)) return fail('ACL permissions {x1} in {r0} record', St.recType, perm);
  }
  St.have |= HAVE_DEFAULT;
  St.defaultMask = load<u64>(St.rec + 40);
  return true;
}

/** A NUL-terminated string of `n` bytes (NUL included) with no NUL inside and at least one byte. */
export function cStringOk(p: usize, n: usize): bool {
  if (n < 2) return fail('{r0} record holds an empty string', St.recType);
  if (load<u8>(p + n - 1) != 0) return fail('{r0} record is not NUL-terminated', St.recType);
  for (let i: usize = 0; i < n - 1; i++) {
    if (load<u8>(p + i) == 0) return fail('{r0} record has a NUL byte inside its string', St.recType);
  }
  return true;
}

export function projidOk(): bool {
  const v = load<u64>(St.rec + 16);
  if (v == 0 || v > 0xffffffff) return fail('QUOTA_PROJID {d1} is out of range (1 to 4294967295)', St.recType, v);
  return true;
}

export function deviceOk(): bool {
  const major = load<u64>(St.rec + 16);
  const minor = load<u64>(St.rec + 24);
  if (major >= 1 << 12) return fail('device major {d1} is out of range (at most 4095)', St.recType, major);
  if (minor >= 1 << 20) return fail('device minor {d1} is out of range (at most 1048575)', St.recType, minor);
  return true;
}

/** Marks which kinds a node has, for the checks made once its metadata is complete. */
export function noteRecord(r: i32): void {
  if (r == 4 || r == 5) St.have |= HAVE_ACL_NAMED;
  else if (r == 8 || r == 9) St.have |= HAVE_DEFAULT_NAMED;
}

/** Rules that need the whole metadata (casync checks them after the last record). */
export function metadataComplete(): bool {
  // casync's reader also wants USER and GROUP on every node under user-names
  // without ids, but its writer leaves them out for root: wasync reads such a
  // node as owned by root, as casync's extraction would.
  const h = St.have;
  if ((h & HAVE_ACL_NAMED) && !(h & HAVE_GROUP_OBJ)) {
    return fail('node at byte {d0} has named ACL entries but no ACL_GROUP_OBJ', St.nodeOff);
  }
  if ((h & HAVE_DEFAULT_NAMED) && (!(h & HAVE_DEFAULT) || St.defaultMask == 0xffffffffffffffff)) {
    return fail('node at byte {d0} has named default ACL entries but no ACL_DEFAULT with a mask', St.nodeOff);
  }
  return true;
}

/**
 * Turns one validated metadata, SYMLINK or DEVICE record of the record buffer
 * into an event for the host (casync-format.md §4.2).  Result slots, after slot
 * 0 (the record's offset):
 *   USER, GROUP, SELINUX, FCAPS, SYMLINK (EV_NODE): 1 pointer, 2 length (no NUL)
 *   XATTR: 1 name pointer, 2 name length, 3 value pointer, 4 value length
 *   ACL_USER, ACL_GROUP, ACL_DEFAULT_USER, ACL_DEFAULT_GROUP:
 *          1 id, 2 permissions, 3 name pointer, 4 name length (0: no name)
 *   ACL_GROUP_OBJ: 1 permissions; QUOTA_PROJID: 1 project id
 *   ACL_DEFAULT: 1 user_obj, 2 group_obj, 3 other, 4 mask (all ones: no mask)
 *   DEVICE (EV_NODE): 1 major, 2 minor
 * Pointers are into the record buffer and valid until the next step.
 */
export function recordEvent(): i32 {
  const t = St.recType;
  const p = St.rec;
  const n = <usize>St.recSize - 16;
  put(R_OFFSET, St.recOff);
  if (t == CA_FORMAT_SYMLINK) {
    if (!cStringOk(p + 16, n)) return EV_ERROR;
    put(1, p + 16);
    put(2, n - 1);
    return EV_NODE;
  }
  if (t == CA_FORMAT_DEVICE) {
    if (!deviceOk()) return EV_ERROR;
    put(1, load<u64>(p + 16));
    put(2, load<u64>(p + 24));
    return EV_NODE;
  }
  const r = rankOf(t);
  // Sort order is checked among records of one kind only.
  if (r != St.rank) St.prevKeyLen = -1;
  let ev = EV_ERROR;
  if (r == 1 || r == 2) {
    if (!decimalIdName(p + 16, n) && !nameOk(p + 16, n)) return EV_ERROR;
    put(1, p + 16);
    put(2, n - 1);
    ev = r == 1 ? EV_USER : EV_GROUP;
  } else if (r == 3) {
    if (!xattrOk()) return EV_ERROR;
    const nameLen = <usize>St.prevKeyLen;
    put(1, p + 16);
    put(2, nameLen);
    put(3, p + 17 + nameLen);
    put(4, n - nameLen - 1);
    ev = EV_XATTR;
  } else if (r == 4 || r == 5 || r == 8 || r == 9) {
    if (!aclEntryOk()) return EV_ERROR;
    put(1, load<u64>(p + 16));
    put(2, load<u64>(p + 24));
    put(3, p + 32);
    put(4, n > 16 ? n - 17 : 0);
    ev = r == 4 ? EV_ACL_USER : r == 5 ? EV_ACL_GROUP : r == 8 ? EV_ACL_DEFAULT_USER : EV_ACL_DEFAULT_GROUP;
  } else if (r == 6) {
    if (!aclGroupObjOk()) return EV_ERROR;
    put(1, load<u64>(p + 16));
    ev = EV_ACL_GROUP_OBJ;
  } else if (r == 7) {
    if (!aclDefaultOk()) return EV_ERROR;
    for (let i: usize = 0; i < 4; i++) put(1 + <i32>i, load<u64>(p + 16 + (i << 3)));
    ev = EV_ACL_DEFAULT;
  } else if (r == 10) {
    if (!cStringOk(p + 16, n)) return EV_ERROR;
    put(1, p + 16);
    put(2, n - 1);
    ev = EV_SELINUX;
  } else if (r == 11) {
    put(1, p + 16);
    put(2, n);
    ev = EV_FCAPS;
  } else if (r == 12) {
    if (!projidOk()) return EV_ERROR;
    put(1, load<u64>(p + 16));
    ev = EV_QUOTA_PROJID;
  }
  noteRecord(r);
  St.rank = r;
  St.lastType = t;
  return ev;
}
