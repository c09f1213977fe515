// Validation of an ENTRY record (casync-format.md §3.3, §4.4) and of FILENAME
// names (§4.7).
//
// ENTRY body, all LE64: feature_flags, mode, flags, uid, gid, mtime.  The first
// ENTRY (the root) fixes the archive's feature flags; every later one must
// repeat them, and they decide which modes, ids and times are legal.

import {
  CA_FORMAT_FEATURE_FLAGS_MAX, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, St,
  CA_FORMAT_WITH_2SEC_TIME, CA_FORMAT_WITH_ACL, CA_FORMAT_WITH_CHATTR, CA_FORMAT_WITH_DEVICE_NODES, CA_FORMAT_WITH_FAT_ATTRS,
  CA_FORMAT_WITH_FIFOS, CA_FORMAT_WITH_NSEC_TIME, CA_FORMAT_WITH_PERMISSIONS, CA_FORMAT_WITH_READ_ONLY, CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_SOCKETS, CA_FORMAT_WITH_SUBVOLUME, CA_FORMAT_WITH_SUBVOLUME_RO, CA_FORMAT_WITH_SYMLINKS, CA_FORMAT_WITH_USEC_TIME,
  fail, normalizeFeatureFlags,
} from './catar-decoder-state';
import { idOk } from './catar-decoder-records';

function featureFlagsOk(ff: u64): bool {
  if (ff & ~CA_FORMAT_FEATURE_FLAGS_MAX) return fail('unknown feature flag bits {f1} in {f0}', ff, ff & ~CA_FORMAT_FEATURE_FLAGS_MAX);
  const n = normalizeFeatureFlags(ff);
  if (n != ff) return fail('feature flags {f0} are not normalized (casync writes {f1})', ff, n);
  if (St.haveExpect && ff != St.expect) return fail('feature flags {f0} differ from the expected {f1}', ff, St.expect);
  if (St.haveFlags && ff != St.flags) {
    return fail("feature flags {f0} differ from the archive's {f1} (set by the root ENTRY)", ff, St.flags);
  }
  St.flags = ff;
  St.haveFlags = true;
  return true;
}

function modeOk(m: u64, eflags: u64, root: bool): bool {
  const f = St.flags;
  if (m & ~(S_IFMT | 0o7777)) return fail('invalid mode {o0}', m);
  const t = m & S_IFMT;
  if (t == S_IFSOCK) {
    if (!(f & CA_FORMAT_WITH_SOCKETS)) return fail('socket (mode {o0}) but the feature flags lack sockets', m);
  } else if (t == S_IFIFO) {
    if (!(f & CA_FORMAT_WITH_FIFOS)) return fail('FIFO (mode {o0}) but the feature flags lack fifos', m);
  } else if (t == S_IFBLK || t == S_IFCHR) {
    if (!(f & CA_FORMAT_WITH_DEVICE_NODES)) return fail('device (mode {o0}) but the feature flags lack device-nodes', m);
  } else if (t == S_IFLNK) {
    if (!(f & CA_FORMAT_WITH_SYMLINKS)) return fail('symlink (mode {o0}) but the feature flags lack symlinks', m);
  } else if (t != S_IFREG && t != S_IFDIR) {
    return fail('unknown file type in mode {o0}', m);
  }
  if (root && t != S_IFDIR) return fail('the archive root is not a directory (mode {o0})', m);
  const isDir = t == S_IFDIR;
  if (eflags & ~(f & (CA_FORMAT_WITH_FAT_ATTRS | CA_FORMAT_WITH_CHATTR | CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO))) {
    return fail('ENTRY flags {x1} are not allowed by the feature flags {f2}', m, eflags, f);
  }
  if (eflags != 0 && t != S_IFREG && !isDir) return fail('ENTRY flags {x1} on a node of mode {o0}', m, eflags);
  if (eflags & (CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO) && !isDir) {
    return fail('subvolume flag on a non-directory (mode {o0})', m);
  }
  const perm = m & 0o7777;
  if (t == S_IFLNK) {
    if (perm == 0o777) return true;
    return fail('symlink with mode {o0} (casync stores 0777)', m);
  }
  if (f & (CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_ACL)) return true;
  if (perm == (isDir ? 0o777 : 0o666)) return true;
  if ((f & CA_FORMAT_WITH_READ_ONLY) && perm == (isDir ? 0o555 : 0o444)) return true;
  return fail('mode {o0} is not possible with the feature flags {f1}', m, f);
}

/**
 * mtime must be rounded to the granularity of the time flags (0 without one).
 * casync's decoder tests usec-time against 1 000 000 ns, which refuses archives
 * its own encoder writes (it rounds to 1000 ns); wasync uses the encoder's value.
 */
function mtimeOk(t: u64): bool {
  const f = St.flags;
  if (t == 0xffffffffffffffff) return fail('mtime {d0} is reserved', t);
  let g: u64 = 0;
  if (f & CA_FORMAT_WITH_NSEC_TIME) g = 1;
  else if (f & CA_FORMAT_WITH_USEC_TIME) g = 1000;
  else if (f & CA_FORMAT_WITH_SEC_TIME) g = 1000000000;
  else if (f & CA_FORMAT_WITH_2SEC_TIME) g = 2000000000;
  if (g == 0) {
    if (t == 0) return true;
    return fail('mtime {d0} but the feature flags store no time (must be 0)', t);
  }
  if (t % g == 0) return true;
  return fail('mtime {d0} is not a multiple of the time granularity {d1} ns', t, g);
}

/** The ENTRY record in St.rec (64 bytes). */
export function entryOk(root: bool): bool {
  const p = St.rec;
  const ff = load<u64>(p + 16);
  const mode = load<u64>(p + 24);
  const eflags = load<u64>(p + 32);
  if (!featureFlagsOk(ff)) return false;
  if (!modeOk(mode, eflags, root)) return false;
  if (!idOk(load<u64>(p + 40), 0)) return false;
  if (!idOk(load<u64>(p + 48), 1)) return false;
  return mtimeOk(load<u64>(p + 56));
}

/**
 * A FILENAME body of `n` bytes including the NUL: not empty, not "." or "..",
 * no '/' and no NUL inside, NUL-terminated.  The length limit is checked on the
 * header.  (casync's decoder has no limit; the kernel would refuse the name.)
 */
export function fileNameOk(p: usize, n: usize): bool {
  if (load<u8>(p + n - 1) != 0) return fail('file name is not NUL-terminated');
  if (n < 2) return fail('empty file name');
  for (let i: usize = 0; i < n - 1; i++) {
    const c = load<u8>(p + i);
    if (c == 0) return fail('file name has a NUL byte at position {d0}', i);
    if (c == 0x2f) return fail("file name has a '/' at position {d0}", i);
  }
  if (load<u8>(p) == 0x2e && (n == 2 || (n == 3 && load<u8>(p + 1) == 0x2e))) {
    return fail('file name "." or ".." is not allowed');
  }
  return true;
}
