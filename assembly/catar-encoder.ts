// The catar encoder: a step machine the host drives node by node
// (casync-format.md §4).
//
// Layout of what it writes for one node:
//   ENTRY (64 bytes: LE64 feature_flags, mode, flags, uid, gid, mtime)
//   USER, GROUP, XATTR*, ACL_USER*, ACL_GROUP*, ACL_GROUP_OBJ, ACL_DEFAULT,
//   ACL_DEFAULT_USER*, ACL_DEFAULT_GROUP*, SELINUX, FCAPS, QUOTA_PROJID
//   then PAYLOAD header (the host streams the content) | SYMLINK | DEVICE |
//   nothing (FIFO, socket) | for a directory: FILENAME + child …, GOODBYE.
//
// Protocol: encoderInit(flags); then for the root and after every FILENAME, one
// node: encoderBegin(…), any of the staging calls, encoderEmit().  Strings go
// through encoderInput(len): the host writes them there before the call that
// takes them.  Every call returns >= 0 (for emitting calls: the number of bytes
// at encoderOutput()) or a negative E_* code with encoderDetail() naming the
// offending value.  A refused call changes no state; a refusal while a node
// is staged drops that node, so the encoder expects it again.
//
// Feature-flag semantics follow casync's encoder, with one deliberate change:
// where it would write an archive its own reader rejects (uid 65535, numeric
// names when no uid is stored, root-owned files under user-names without uids,
// names its reader finds invalid, mtime UINT64_MAX), the call is refused.

import { Bytes, hasNul } from './catar-encoder-buffer';
import {
  CA_FORMAT_ACL_DEFAULT, CA_FORMAT_ACL_GROUP_OBJ, CA_FORMAT_DEVICE, CA_FORMAT_ENTRY, CA_FORMAT_ENTRY_SIZE,
  CA_FORMAT_FCAPS, CA_FORMAT_FCAPS_MAX, CA_FORMAT_FEATURE_FLAGS_MAX, CA_FORMAT_PAYLOAD,
  CA_FORMAT_QUOTA_PROJID, CA_FORMAT_SELINUX, CA_FORMAT_SELINUX_LABEL_MAX, CA_FORMAT_SYMLINK,
  CA_FORMAT_SYMLINK_TARGET_MAX, CA_FORMAT_WITH_16BIT_UIDS, CA_FORMAT_WITH_ACL, CA_FORMAT_WITH_DEVICE_NODES,
  CA_FORMAT_WITH_FCAPS, CA_FORMAT_WITH_FIFOS, CA_FORMAT_WITH_QUOTA_PROJID, CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_SOCKETS, CA_FORMAT_WITH_SYMLINKS, CA_FORMAT_WITH_USER_NAMES, CA_FORMAT_WITH_XATTRS,
  CA_FORMAT_XATTR_VALUE_MAX,
  E_ACL_ID_16BIT, E_ACL_ID_INVALID, E_ACL_NAME_INVALID, E_ACL_NAME_NUMERIC, E_ACL_PERMISSIONS,
  E_BODY_MISSING, E_DEVICE_NUMBER, E_FCAPS_SIZE, E_FLAGS, E_MTIME, E_NODE_TYPE, E_NOT_ARCHIVED, E_PAYLOAD_SIZE,
  E_ROOT_NOT_DIR, E_SELINUX_LABEL, E_STATE, E_SYMLINK_TARGET, E_XATTR_VALUE_SIZE, normalizeFeatureFlags,
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, UID_BITS,
} from './catar-encoder-format';
import { addChild, closeDirectory, openDirectories, openDirectory, resetDirectories } from './catar-encoder-goodbye';
import {
  ACL_DEFAULT_GROUP, ACL_DEFAULT_USER, ACL_GROUP, ACL_USER, addAcl, addXattr, keep, NO_NAME, pool,
  resetMetadata, sortAcls, validUserName, writeAcls, writeXattrs, xattrStored,
} from './catar-encoder-metadata';
import { checkOwner, entryFlags, entryMode, entryMtime, ownerProblem, ownerRecords } from './catar-encoder-entry';

const S_NONE = 0; // not initialized
const S_ROOT = 1; // expects the root node
const S_CHILD = 2; // a FILENAME was written: expects its node
const S_STAGING = 3; // between encoderBegin and encoderEmit
const S_DIR = 4; // in an open directory: expects FILENAME or GOODBYE
const S_PAYLOAD = 5; // a file's content is being streamed (S_DIR once complete)
const S_DONE = 6; // the root's GOODBYE was written

let state = S_NONE;
let stagedFrom = S_NONE;
let featureFlags: u64 = 0;
let offset: u64 = 0;
let remaining: u64 = 0;
let detail: u64 = 0;
const input = new Bytes(4096);
const out = new Bytes(4096);

// The staged node.
let mode: u32 = 0;
let uid: u32 = 0;
let gid: u32 = 0;
let mtime: u64 = 0;
let nodeFlags: u64 = 0;
let user: u32 = NO_NAME; // pool offsets / lengths
let userLen: u32 = 0;
let group: u32 = NO_NAME;
let groupLen: u32 = 0;
let selinux: u32 = NO_NAME;
let selinuxLen: u32 = 0;
let fcaps: u32 = NO_NAME;
let fcapsLen: u32 = 0;
let target: u32 = NO_NAME;
let targetLen: u32 = 0;
let aclGroupObj: i32 = -1;
let aclDefault = false;
const aclDefaultPerms = new StaticArray<i32>(4);
let projid: u32 = 0;
let size: u64 = 0;
let hasSize = false;
let major: u32 = 0;
let minor: u32 = 0;
let hasDevice = false;

function fail(code: i32, value: u64): i32 {
  detail = value;
  // A refused node is dropped whole: the encoder expects that node again.
  if (state == S_STAGING) state = stagedFrom;
  return code;
}

// @ts-ignore: decorator
@inline
function type(): u32 {
  return mode & S_IFMT;
}

/** Whether nodes of this st_mode are archived at all under `flags`. */
export function encoderArchives(flags: u64, m: u32): bool {
  switch (m & S_IFMT) {
    case S_IFREG: case S_IFDIR: return true;
    case S_IFLNK: return (flags & CA_FORMAT_WITH_SYMLINKS) != 0;
    case S_IFBLK: case S_IFCHR: return (flags & CA_FORMAT_WITH_DEVICE_NODES) != 0;
    case S_IFIFO: return (flags & CA_FORMAT_WITH_FIFOS) != 0;
    case S_IFSOCK: return (flags & CA_FORMAT_WITH_SOCKETS) != 0;
  }
  return false;
}

/** Starts a new archive with normalized feature flags. */
export function encoderInit(flags: u64): i32 {
  if ((flags & ~CA_FORMAT_FEATURE_FLAGS_MAX) != 0 || normalizeFeatureFlags(flags) != flags) {
    return fail(E_FLAGS, flags);
  }
  featureFlags = flags;
  offset = 0;
  remaining = 0;
  resetDirectories();
  state = S_ROOT;
  return 0;
}

/** Room for `len` bytes of input to the next call; the address moves as memory grows. */
export function encoderInput(len: u32): usize {
  input.reset();
  return input.reserve(len);
}

export function encoderOutput(): usize {
  return out.ptr;
}

export function encoderOffset(): u64 {
  return offset;
}

export function encoderDetail(): u64 {
  return detail;
}

/** The node's scalars; `t` is st_mtim as unsigned nanoseconds (wrapped before 1970). */
export function encoderBegin(m: u32, u: u32, g: u32, t: u64, flags: u64): i32 {
  if (state != S_ROOT && state != S_CHILD) return fail(E_STATE, state);
  const ty = m & S_IFMT;
  if (ty != S_IFREG && ty != S_IFDIR && ty != S_IFLNK && ty != S_IFBLK && ty != S_IFCHR && ty != S_IFIFO && ty != S_IFSOCK) {
    return fail(E_NODE_TYPE, m);
  }
  if (state == S_ROOT && ty != S_IFDIR) return fail(E_ROOT_NOT_DIR, m);
  if (!encoderArchives(featureFlags, m)) return fail(E_NOT_ARCHIVED, m);
  resetMetadata();
  mode = m; uid = u; gid = g; mtime = t; nodeFlags = flags;
  user = group = selinux = fcaps = target = NO_NAME;
  aclGroupObj = -1; aclDefault = false;
  projid = 0; hasSize = false; hasDevice = false;
  stagedFrom = state;
  state = S_STAGING;
  return 0;
}

export function encoderUser(len: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  user = keep(input.ptr, len);
  userLen = len;
  return 0;
}

export function encoderGroup(len: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  group = keep(input.ptr, len);
  groupLen = len;
  return 0;
}

/** An extended attribute: name, then value, in the input. Kept only where casync stores it. */
export function encoderXattr(nameLen: u32, valueLen: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  // casync lists xattrs through an O_PATH descriptor for anything but files
  // and directories, which the kernel refuses: those nodes never get XATTRs.
  if ((featureFlags & CA_FORMAT_WITH_XATTRS) == 0 || (type() != S_IFREG && type() != S_IFDIR)) return 0;
  if (!xattrStored(input.ptr, nameLen) || hasNul(input.ptr, nameLen)) return 0;
  if (valueLen > CA_FORMAT_XATTR_VALUE_MAX) return fail(E_XATTR_VALUE_SIZE, valueLen);
  addXattr(input.ptr, nameLen, input.ptr + nameLen, valueLen);
  return 0;
}

/** A named ACL entry (kind ACL_USER … ACL_DEFAULT_GROUP); nameLen -1 when no name is known. */
export function encoderAcl(kind: u32, id: u32, perm: u32, nameLen: i32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if (kind > ACL_DEFAULT_GROUP || perm > 7) return fail(E_ACL_PERMISSIONS, perm);
  if (!aclApplies(kind >= ACL_DEFAULT_USER)) return 0;
  if (id == 0xffff || id == 0xffffffff) return fail(E_ACL_ID_INVALID, id);
  if ((featureFlags & CA_FORMAT_WITH_16BIT_UIDS) != 0 && id > 0xffff) return fail(E_ACL_ID_16BIT, id);
  let n = NO_NAME;
  // Like the owner's name: never for id 0, and a numeric stand-in (which
  // casync's reader rejects) when no name is known and no id is stored.
  if ((featureFlags & CA_FORMAT_WITH_USER_NAMES) != 0 && id != 0) {
    if (nameLen >= 0) {
      if (!validUserName(input.ptr, nameLen)) return fail(E_ACL_NAME_INVALID, id);
      n = <u32>nameLen;
    } else if ((featureFlags & UID_BITS) == 0) {
      return fail(E_ACL_NAME_NUMERIC, id);
    }
  }
  addAcl(kind, (featureFlags & UID_BITS) != 0 ? id : 0, perm, input.ptr, n);
  return 0;
}

function aclApplies(defaults: bool): bool {
  if ((featureFlags & CA_FORMAT_WITH_ACL) == 0 || type() == S_IFLNK) return false;
  return !defaults || type() == S_IFDIR;
}

/** The access ACL's GROUP_OBJ permissions (only given when it has a mask). */
export function encoderAclGroupObj(perm: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if (perm > 7) return fail(E_ACL_PERMISSIONS, perm);
  if (aclApplies(false)) aclGroupObj = <i32>perm;
  return 0;
}

/** The default ACL's USER_OBJ, GROUP_OBJ, OTHER and MASK permissions, -1 for absent. */
export function encoderAclDefault(userObj: i32, groupObj: i32, other: i32, mask: i32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  unchecked((aclDefaultPerms[0] = userObj));
  unchecked((aclDefaultPerms[1] = groupObj));
  unchecked((aclDefaultPerms[2] = other));
  unchecked((aclDefaultPerms[3] = mask));
  let any = false;
  for (let i = 0; i < 4; i++) {
    const p = unchecked(aclDefaultPerms[i]);
    if (p < -1 || p > 7) return fail(E_ACL_PERMISSIONS, <u64>p);
    if (p >= 0) any = true;
  }
  if (aclApplies(true)) aclDefault = any;
  return 0;
}

export function encoderSelinux(len: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if ((featureFlags & CA_FORMAT_WITH_SELINUX) == 0) return 0;
  if (len == 0 || len > CA_FORMAT_SELINUX_LABEL_MAX || hasNul(input.ptr, len)) return fail(E_SELINUX_LABEL, len);
  selinux = keep(input.ptr, len);
  selinuxLen = len;
  return 0;
}

/** The raw security.capability value; casync keeps it for regular files only. */
export function encoderFcaps(len: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if ((featureFlags & CA_FORMAT_WITH_FCAPS) == 0 || type() != S_IFREG || len == 0) return 0;
  if (len > CA_FORMAT_FCAPS_MAX) return fail(E_FCAPS_SIZE, len);
  fcaps = keep(input.ptr, len);
  fcapsLen = len;
  return 0;
}

export function encoderProjid(id: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if ((featureFlags & CA_FORMAT_WITH_QUOTA_PROJID) != 0 && (type() == S_IFREG || type() == S_IFDIR)) projid = id;
  return 0;
}

export function encoderPayloadSize(s: u64): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  size = s;
  hasSize = true;
  return 0;
}

export function encoderSymlink(len: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if (len == 0 || len > CA_FORMAT_SYMLINK_TARGET_MAX || hasNul(input.ptr, len)) return fail(E_SYMLINK_TARGET, len);
  target = keep(input.ptr, len);
  targetLen = len;
  return 0;
}

/** Device numbers; casync's reader takes 12-bit majors and 20-bit minors, as Linux has. */
export function encoderDevice(ma: u32, mi: u32): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  if (ma >= 1 << 12) return fail(E_DEVICE_NUMBER, ma);
  if (mi >= 1 << 20) return fail(E_DEVICE_NUMBER, mi);
  major = ma;
  minor = mi;
  hasDevice = true;
  return 0;
}

/** Writes the staged node's records; a directory becomes the open directory. */
export function encoderEmit(): i32 {
  if (state != S_STAGING) return fail(E_STATE, state);
  const ty = type();
  if ((ty == S_IFREG && !hasSize) || (ty == S_IFLNK && target == NO_NAME) || ((ty == S_IFBLK || ty == S_IFCHR) && !hasDevice)) {
    return fail(E_BODY_MISSING, mode);
  }
  const t = entryMtime(featureFlags, mtime);
  // casync's reader takes UINT64_MAX for "no time"; only 1 ns before 1970 maps there.
  if (t == u64.MAX_VALUE) return fail(E_MTIME, t);
  const owner = checkOwner(featureFlags, uid, gid, user, userLen, group, groupLen);
  if (owner < 0) return fail(owner, ownerProblem());
  out.reset();
  out.header(CA_FORMAT_ENTRY_SIZE, CA_FORMAT_ENTRY);
  out.u64(featureFlags);
  out.u64(entryMode(featureFlags, mode));
  out.u64(entryFlags(featureFlags, mode, nodeFlags));
  out.u64((featureFlags & UID_BITS) != 0 ? <u64>uid : 0);
  out.u64((featureFlags & UID_BITS) != 0 ? <u64>gid : 0);
  out.u64(t);
  ownerRecords(featureFlags, uid, gid, user, userLen, group, groupLen, out);
  const x = writeXattrs(out);
  if (x < 0) return fail(x, 0);
  sortAcls();
  writeAcls(ACL_USER, out);
  writeAcls(ACL_GROUP, out);
  if (aclGroupObj >= 0) {
    out.header(24, CA_FORMAT_ACL_GROUP_OBJ);
    out.u64(<u64>aclGroupObj);
  }
  if (aclDefault) {
    out.header(48, CA_FORMAT_ACL_DEFAULT);
    for (let i = 0; i < 4; i++) out.u64(<u64>(<i64>unchecked(aclDefaultPerms[i])));
  }
  writeAcls(ACL_DEFAULT_USER, out);
  writeAcls(ACL_DEFAULT_GROUP, out);
  if (selinux != NO_NAME) out.cstringRecord(CA_FORMAT_SELINUX, pool.ptr + selinux, selinuxLen);
  if (fcaps != NO_NAME) {
    out.header(<u64>(16 + fcapsLen), CA_FORMAT_FCAPS);
    out.bytes(pool.ptr + fcaps, fcapsLen);
  }
  if (projid != 0) {
    out.header(24, CA_FORMAT_QUOTA_PROJID);
    out.u64(projid);
  }
  const entryOffset = offset;
  if (ty == S_IFREG) {
    out.header(16 + size, CA_FORMAT_PAYLOAD);
  } else if (ty == S_IFLNK) {
    out.cstringRecord(CA_FORMAT_SYMLINK, pool.ptr + target, targetLen);
  } else if (ty == S_IFBLK || ty == S_IFCHR) {
    out.header(32, CA_FORMAT_DEVICE);
    out.u64(major);
    out.u64(minor);
  }
  offset += out.len;
  if (ty == S_IFDIR) {
    openDirectory(entryOffset);
    state = S_DIR;
  } else if (ty == S_IFREG) {
    remaining = size;
    state = S_PAYLOAD;
  } else {
    state = S_DIR;
  }
  return <i32>out.len;
}

/** Counts `bytes` of the current file's content, streamed by the host. */
export function encoderPayloadDone(bytes: u64): i32 {
  if (state != S_PAYLOAD) return fail(E_STATE, state);
  if (bytes > remaining) return fail(E_PAYLOAD_SIZE, remaining);
  remaining -= bytes;
  offset += bytes;
  return 0;
}

/**
 * A child's whole node, `bytes` of ENTRY … (a directory's GOODBYE), written by
 * the host as it was written before (an encoder cache's unchanged subtree):
 * counted like a payload, the child's item ends where the next starts.
 */
export function encoderSkipNode(bytes: u64): i32 {
  if (state != S_CHILD) return fail(E_STATE, state);
  offset += bytes;
  state = S_DIR;
  return 0;
}

function betweenChildren(): i32 {
  if (state == S_PAYLOAD) return remaining == 0 ? 0 : fail(E_PAYLOAD_SIZE, remaining);
  return state == S_DIR ? 0 : fail(E_STATE, state);
}

/** The FILENAME record of the next child (name in the input); ends the previous child. */
export function encoderFilename(len: u32): i32 {
  const s = betweenChildren();
  if (s < 0) return s;
  out.reset();
  const r = addChild(input.ptr, len, offset, out);
  if (r < 0) return fail(r, len);
  offset += out.len;
  state = S_CHILD;
  return <i32>out.len;
}

/** The GOODBYE record that ends the innermost open directory. */
export function encoderGoodbye(): i32 {
  const s = betweenChildren();
  if (s < 0) return s;
  out.reset();
  closeDirectory(offset, out);
  offset += out.len;
  state = openDirectories() == 0 ? S_DONE : S_DIR;
  return <i32>out.len;
}
