// The ENTRY fields of a catar node that depend on the feature flags, and its
// USER/GROUP records (casync-format.md §4.4, §4.5).
//
// mode: symlinks always 0120777; permission bits with permissions or acl; with
// read-only only "writable or not" (0666/0444, dirs 0777/0555); else 0666/0777.
// flags: chattr and FAT attribute bits (and subvolume bits on directories) the
// node has, within the feature flags, for regular files and directories only.
// mtime: st_mtim in unsigned 64-bit nanoseconds, rounded down to the time flag's
// granularity, 0 without a time flag.
//
// casync stores numeric ids with 16bit-uids or 32bit-uids (16-bit refuses ids
// above 0xffff) and names with user-names: never for id 0, nothing when the name
// is unknown and an id is stored, the decimal id when no id is stored.  Its
// reader refuses ids 0xffff and 0xffffffff and invalid names, which the encoder
// refuses too.  Under user-names without ids casync's reader also refuses what
// its writer makes of root (no USER or GROUP) and of an unnamed id (a decimal
// name); the encoder writes those as casync does, byte for byte, and wasync's
// decoder reads them as casync's extraction means them (root; that id).

import { Bytes } from './catar-encoder-buffer';
import {
  CA_FORMAT_GROUP, CA_FORMAT_USER, CA_FORMAT_WITH_16BIT_UIDS, CA_FORMAT_WITH_2SEC_TIME, CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_CHATTR, CA_FORMAT_WITH_FAT_ATTRS, CA_FORMAT_WITH_NSEC_TIME, CA_FORMAT_WITH_PERMISSIONS,
  CA_FORMAT_WITH_READ_ONLY, CA_FORMAT_WITH_SEC_TIME, CA_FORMAT_WITH_SUBVOLUME, CA_FORMAT_WITH_SUBVOLUME_RO,
  CA_FORMAT_WITH_USEC_TIME, CA_FORMAT_WITH_USER_NAMES, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
  E_GID_16BIT, E_GID_INVALID, E_GROUP_NAME_INVALID, E_UID_16BIT, E_UID_INVALID, E_USER_NAME_INVALID, UID_BITS,
} from './catar-encoder-format';
import { NO_NAME, pool, validUserName } from './catar-encoder-metadata';

let ownerDetail: u64 = 0;

/** The id a refusal from checkOwner concerns. */
export function ownerProblem(): u64 {
  return ownerDetail;
}

function refuse(code: i32, id: u32): i32 {
  ownerDetail = id;
  return code;
}

/**
 * 0 when casync would store this owner in a way its reader accepts, else an
 * E_* code (the id in ownerProblem()).  Names are pool offsets (NO_NAME: unknown).
 */
export function checkOwner(flags: u64, uid: u32, gid: u32, user: u32, userLen: u32, group: u32, groupLen: u32): i32 {
  const ids = (flags & UID_BITS) != 0;
  const names = (flags & CA_FORMAT_WITH_USER_NAMES) != 0;
  if (!ids && !names) return 0;
  if (uid == 0xffff || uid == 0xffffffff) return refuse(E_UID_INVALID, uid);
  if (gid == 0xffff || gid == 0xffffffff) return refuse(E_GID_INVALID, gid);
  if ((flags & CA_FORMAT_WITH_16BIT_UIDS) != 0) {
    if (uid > 0xffff) return refuse(E_UID_16BIT, uid);
    if (gid > 0xffff) return refuse(E_GID_16BIT, gid);
  }
  if (!names) return 0;
  const u = checkName(uid, user, userLen, E_USER_NAME_INVALID);
  if (u < 0) return u;
  return checkName(gid, group, groupLen, E_GROUP_NAME_INVALID);
}

function checkName(id: u32, name: u32, len: u32, invalid: i32): i32 {
  if (id == 0 || name == NO_NAME) return 0;
  return validUserName(pool.ptr + name, len) ? 0 : refuse(invalid, id);
}

/** USER and GROUP records for an owner checkOwner accepted. */
export function ownerRecords(flags: u64, uid: u32, gid: u32, user: u32, userLen: u32, group: u32, groupLen: u32, out: Bytes): void {
  if ((flags & CA_FORMAT_WITH_USER_NAMES) == 0) return;
  const ids = (flags & UID_BITS) != 0;
  nameRecord(CA_FORMAT_USER, uid, user, userLen, ids, out);
  nameRecord(CA_FORMAT_GROUP, gid, group, groupLen, ids, out);
}

/** Room for a decimal u32 (10 digits). */
const DECIMAL = memory.data(16);

function nameRecord(type: u64, id: u32, name: u32, len: u32, ids: bool, out: Bytes): void {
  if (id == 0) return;
  if (name != NO_NAME) {
    out.cstringRecord(type, pool.ptr + name, len);
    return;
  }
  if (ids) return;
  // No name and no id stored: casync writes the id in decimal as the name.
  let n: usize = 0;
  let v = id;
  do {
    store<u8>(DECIMAL + n++, 0x30 + <u8>(v % 10));
    v /= 10;
  } while (v != 0);
  for (let i: usize = 0; i < n / 2; i++) {
    const t = load<u8>(DECIMAL + i);
    store<u8>(DECIMAL + i, load<u8>(DECIMAL + n - 1 - i));
    store<u8>(DECIMAL + n - 1 - i, t);
  }
  out.cstringRecord(type, DECIMAL, n);
}

export function entryMode(flags: u64, mode: u32): u64 {
  const ty = mode & S_IFMT;
  const dir = ty == S_IFDIR;
  if (ty == S_IFLNK) return S_IFLNK | 0o777;
  if (flags & (CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_ACL)) return mode & (S_IFMT | 0o7777);
  if (flags & CA_FORMAT_WITH_READ_ONLY) {
    return ty | ((mode & 0o222) != 0 ? (dir ? 0o777 : 0o666) : (dir ? 0o555 : 0o444));
  }
  return ty | (dir ? 0o777 : 0o666);
}

export function entryFlags(flags: u64, mode: u32, nodeFlags: u64): u64 {
  const ty = mode & S_IFMT;
  let mask: u64 = 0;
  if (ty == S_IFREG || ty == S_IFDIR) mask = CA_FORMAT_WITH_CHATTR | CA_FORMAT_WITH_FAT_ATTRS;
  if (ty == S_IFDIR) mask |= CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO;
  return nodeFlags & flags & mask;
}

export function entryMtime(flags: u64, mtime: u64): u64 {
  let g: u64 = 0;
  if (flags & CA_FORMAT_WITH_NSEC_TIME) g = 1;
  else if (flags & CA_FORMAT_WITH_USEC_TIME) g = 1000;
  else if (flags & CA_FORMAT_WITH_SEC_TIME) g = 1000000000;
  else if (flags & CA_FORMAT_WITH_2SEC_TIME) g = 2000000000;
  return g == 0 ? 0 : (mtime / g) * g;
}
