// casync feature flags (casync-format.md §3).
//
// One 64-bit word, stored in index headers and in every catar ENTRY.  The low 33
// bits ("with" bits, WITH_MASK) say which metadata an archive carries; the top four
// bits are behaviour flags (exclusions) and the digest choice.  casync normalizes
// the word before writing it (§3.3) and its readers refuse anything else, so the
// reader here checks normalization too, naming the offending bits.
//
// The bits the wasm core reads come from it (src/generated/core-constants.ts),
// and so does the normalization: one function serves the core's encoder, its
// decoder and this module.  The other bits and the groups are the host's own.

import {
  CA_FORMAT_WITH_16BIT_UIDS, CA_FORMAT_WITH_32BIT_UIDS, CA_FORMAT_WITH_USER_NAMES, CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_USEC_TIME, CA_FORMAT_WITH_NSEC_TIME, CA_FORMAT_WITH_2SEC_TIME, CA_FORMAT_WITH_READ_ONLY,
  CA_FORMAT_WITH_PERMISSIONS, CA_FORMAT_WITH_SYMLINKS, CA_FORMAT_WITH_DEVICE_NODES, CA_FORMAT_WITH_FIFOS,
  CA_FORMAT_WITH_SOCKETS, CA_FORMAT_WITH_FAT_ATTRS, CA_FORMAT_WITH_CHATTR, CA_FORMAT_WITH_FLAG_NODUMP,
  CA_FORMAT_WITH_SUBVOLUME, CA_FORMAT_WITH_SUBVOLUME_RO, CA_FORMAT_WITH_XATTRS, CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_SELINUX, CA_FORMAT_WITH_FCAPS, CA_FORMAT_WITH_QUOTA_PROJID, CA_FORMAT_EXCLUDE_NODUMP,
  CA_FORMAT_FEATURE_FLAGS_MAX,
} from '../generated/core-constants.ts';
import { instantiateCore } from '../wasm/core.ts';

export {
  CA_FORMAT_WITH_16BIT_UIDS, CA_FORMAT_WITH_32BIT_UIDS, CA_FORMAT_WITH_USER_NAMES, CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_USEC_TIME, CA_FORMAT_WITH_NSEC_TIME, CA_FORMAT_WITH_2SEC_TIME, CA_FORMAT_WITH_READ_ONLY,
  CA_FORMAT_WITH_PERMISSIONS, CA_FORMAT_WITH_SYMLINKS, CA_FORMAT_WITH_DEVICE_NODES, CA_FORMAT_WITH_FIFOS,
  CA_FORMAT_WITH_SOCKETS, CA_FORMAT_WITH_FAT_ATTRS, CA_FORMAT_WITH_CHATTR, CA_FORMAT_WITH_FLAG_NODUMP,
  CA_FORMAT_WITH_SUBVOLUME, CA_FORMAT_WITH_SUBVOLUME_RO, CA_FORMAT_WITH_XATTRS, CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_SELINUX, CA_FORMAT_WITH_FCAPS, CA_FORMAT_WITH_QUOTA_PROJID, CA_FORMAT_EXCLUDE_NODUMP,
  CA_FORMAT_FEATURE_FLAGS_MAX,
};

export const CA_FORMAT_WITH_FLAG_HIDDEN = 0x2000n;
export const CA_FORMAT_WITH_FLAG_SYSTEM = 0x4000n;
export const CA_FORMAT_WITH_FLAG_ARCHIVE = 0x8000n;
export const CA_FORMAT_WITH_FLAG_APPEND = 0x10000n;
export const CA_FORMAT_WITH_FLAG_NOATIME = 0x20000n;
export const CA_FORMAT_WITH_FLAG_COMPR = 0x40000n;
export const CA_FORMAT_WITH_FLAG_NOCOW = 0x80000n;
export const CA_FORMAT_WITH_FLAG_DIRSYNC = 0x200000n;
export const CA_FORMAT_WITH_FLAG_IMMUTABLE = 0x400000n;
export const CA_FORMAT_WITH_FLAG_SYNC = 0x800000n;
export const CA_FORMAT_WITH_FLAG_NOCOMP = 0x1000000n;
export const CA_FORMAT_WITH_FLAG_PROJINHERIT = 0x2000000n;

export const CA_FORMAT_EXCLUDE_FILE = 0x1000000000000000n;
export const CA_FORMAT_SHA512_256 = 0x2000000000000000n;
export const CA_FORMAT_EXCLUDE_SUBMOUNTS = 0x4000000000000000n;

export const CA_FORMAT_WITH_MASK = 0x00000001ffffffffn;

/** What `casync make X.caibx` writes: no "with" bits, only behaviour and digest. */
export const CA_FORMAT_BLOB_DEFAULT =
  CA_FORMAT_EXCLUDE_NODUMP | CA_FORMAT_SHA512_256 | CA_FORMAT_EXCLUDE_FILE;

export type DigestName = 'sha512-256' | 'sha256';

export const digestOfFlags = (flags: bigint): DigestName =>
  flags & CA_FORMAT_SHA512_256 ? 'sha512-256' : 'sha256';

type FlagsCore = { normalizeFeatureFlags(flags: bigint): bigint };
/** A core instance of its own, made on first use. */
let core: FlagsCore | undefined;

/** casync's normalization (§3.3), applied in its order (assembly/catar-format.ts). */
export function normalizeFeatureFlags(flags: bigint): bigint {
  core ??= instantiateCore() as unknown as FlagsCore;
  return BigInt.asUintN(64, core.normalizeFeatureFlags(flags));
}

/** Why `flags` is not a value casync would write, or null if it is one. */
export function featureFlagsProblem(flags: bigint): string | null {
  const unknown = flags & ~CA_FORMAT_FEATURE_FLAGS_MAX;
  if (unknown) return `unknown feature flag bits ${hex64(unknown)} in ${hex64(flags)}`;
  const normal = normalizeFeatureFlags(flags);
  if (normal !== flags) {
    return `feature flags ${hex64(flags)} are not normalized (casync writes ${hex64(normal)})`;
  }
  return null;
}

export const hex64 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

// The shortcut groups of `--with=`/`--without=` (casync-format.md §3.2), as caformat.h
// defines them.  `best` lacks permissions because ACL implies them.
export const CA_FORMAT_WITH_BEST = 0x00000001fffffe26n;
export const CA_FORMAT_WITH_UNIX = 0x0000000000001f09n;
export const CA_FORMAT_WITH_FAT = 0x000000000000e0c0n;
export const CA_FORMAT_WITH_PRIVILEGED = 0x00000001ec414407n;
export const CA_FORMAT_WITH_FUSE = 0x0000000013fffffbn;

/** casync's CA_FORMAT_DEFAULT: what `casync make` of a directory writes. */
export const CA_FORMAT_DEFAULT =
  (CA_FORMAT_WITH_BEST & ~CA_FORMAT_WITH_FLAG_NODUMP) |
  CA_FORMAT_EXCLUDE_NODUMP |
  CA_FORMAT_EXCLUDE_FILE |
  CA_FORMAT_SHA512_256;

/**
 * The "with" bits this build supports (casync's SUPPORTED_WITH_MASK).  Debian's casync
 * is built with SELinux, so that is every bit; it is the default "with" set of every
 * verb that handles directories and archives, while blob verbs start from 0.
 */
export const CA_FORMAT_SUPPORTED_WITH_MASK = CA_FORMAT_WITH_MASK;

/**
 * casync's ca_feature_flags_normalize_mask: widens a mask so that every bit a
 * normalized value could drop is present (any uid bit allows both, any time bit all
 * four, permissions allows read-only, acl both, subvolume-ro subvolume).
 */
export function expandFeatureFlagsMask(mask: bigint): bigint {
  if (mask === 0xffffffffffffffffn) return mask;
  let m = mask & CA_FORMAT_FEATURE_FLAGS_MAX;
  const uids = CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS;
  const times =
    CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_USEC_TIME | CA_FORMAT_WITH_NSEC_TIME | CA_FORMAT_WITH_2SEC_TIME;
  if (m & uids) m |= uids;
  if (m & times) m |= times;
  if (m & CA_FORMAT_WITH_PERMISSIONS) m |= CA_FORMAT_WITH_READ_ONLY;
  if (m & CA_FORMAT_WITH_ACL) m |= CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_READ_ONLY;
  if (m & CA_FORMAT_WITH_SUBVOLUME_RO) m |= CA_FORMAT_WITH_SUBVOLUME;
  return m;
}

/**
 * The flags a casync decoder actually honours ("replay" flags): the archive's flags
 * cut down to what the command line's flags allow.  `casync list/mtree/stat` pass
 * their --with/--without result as the mask, so e.g. `--without=user-names` hides
 * names an archive does carry.
 */
export function replayFeatureFlags(archiveFlags: bigint, mask: bigint): bigint {
  return normalizeFeatureFlags(expandFeatureFlagsMask(archiveFlags) & expandFeatureFlagsMask(mask));
}
