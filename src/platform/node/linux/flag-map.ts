// How the file attributes the kernel reports map onto casync's feature-flag bits
// (casync-format.md §3.1, §4.4): the ten chattr flags of FS_IOC_GETFLAGS, the
// three FAT attributes of FAT_IOCTL_GET_ATTRIBUTES, and the btrfs subvolume
// state.  ENTRY.flags holds the feature-flag form; extraction maps back.  Pure
// functions with no FFI, so the format and tree code can use them anywhere.
//
// Bits without a casync counterpart are dropped in both directions: ext4's
// extents flag ('e'), casefold, encrypt, verity and the FAT read-only, volume
// and directory bits (read-only is carried by the mode instead).

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
  CA_FORMAT_WITH_SUBVOLUME,
  CA_FORMAT_WITH_SUBVOLUME_RO,
} from '../../../format/feature-flags.ts';

// <linux/fs.h> FS_*_FL, as FS_IOC_GETFLAGS/SETFLAGS carry them.
export const FS_SECRM_FL = 0x1;
export const FS_UNRM_FL = 0x2;
export const FS_COMPR_FL = 0x4;
export const FS_SYNC_FL = 0x8;
export const FS_IMMUTABLE_FL = 0x10;
export const FS_APPEND_FL = 0x20;
export const FS_NODUMP_FL = 0x40;
export const FS_NOATIME_FL = 0x80;
export const FS_NOCOMP_FL = 0x400;
export const FS_DIRSYNC_FL = 0x10000;
export const FS_EXTENT_FL = 0x80000;
export const FS_NOCOW_FL = 0x800000;
export const FS_PROJINHERIT_FL = 0x20000000;

// <linux/msdos_fs.h> ATTR_*, as FAT_IOCTL_GET_ATTRIBUTES carries them.
export const ATTR_RO = 0x1;
export const ATTR_HIDDEN = 0x2;
export const ATTR_SYS = 0x4;
export const ATTR_VOLUME = 0x8;
export const ATTR_DIR = 0x10;
export const ATTR_ARCH = 0x20;

/** casync's chattr_map, in its order. */
const CHATTR_MAP: ReadonlyArray<readonly [bigint, number]> = [
  [CA_FORMAT_WITH_FLAG_APPEND, FS_APPEND_FL],
  [CA_FORMAT_WITH_FLAG_NOATIME, FS_NOATIME_FL],
  [CA_FORMAT_WITH_FLAG_COMPR, FS_COMPR_FL],
  [CA_FORMAT_WITH_FLAG_NOCOW, FS_NOCOW_FL],
  [CA_FORMAT_WITH_FLAG_NODUMP, FS_NODUMP_FL],
  [CA_FORMAT_WITH_FLAG_DIRSYNC, FS_DIRSYNC_FL],
  [CA_FORMAT_WITH_FLAG_IMMUTABLE, FS_IMMUTABLE_FL],
  [CA_FORMAT_WITH_FLAG_SYNC, FS_SYNC_FL],
  [CA_FORMAT_WITH_FLAG_NOCOMP, FS_NOCOMP_FL],
  [CA_FORMAT_WITH_FLAG_PROJINHERIT, FS_PROJINHERIT_FL],
];

/** casync's fat_attrs_map. */
const FAT_MAP: ReadonlyArray<readonly [bigint, number]> = [
  [CA_FORMAT_WITH_FLAG_HIDDEN, ATTR_HIDDEN],
  [CA_FORMAT_WITH_FLAG_SYSTEM, ATTR_SYS],
  [CA_FORMAT_WITH_FLAG_ARCHIVE, ATTR_ARCH],
];

/** Every chattr flag casync knows, in FS_*_FL form (the mask for a read-modify-write). */
export const CHATTR_KNOWN = CHATTR_MAP.reduce((m, [, fl]) => m | fl, 0);
/** Every FAT attribute casync knows, in ATTR_* form. */
export const FAT_KNOWN = FAT_MAP.reduce((m, [, a]) => m | a, 0);
// casync's CA_FORMAT_WITH_CHATTR and CA_FORMAT_WITH_FAT_ATTRS, derived from the maps.
const WITH_CHATTR = CHATTR_MAP.reduce((m, [f]) => m | f, 0n);
const WITH_FAT_ATTRS = FAT_MAP.reduce((m, [f]) => m | f, 0n);

// Feature-flag words are bigints; the kernel words are 32-bit.  Lookup by bit
// index keeps the per-file conversion a short loop with no allocation.
const fromChattrTable = CHATTR_MAP.map(([f, fl]) => ({ fl, f }));
const fromFatTable = FAT_MAP.map(([f, a]) => ({ a, f }));

/** ca_feature_flags_from_chattr: FS_*_FL bits → CA_FORMAT_WITH_FLAG_* bits. */
export function chattrToFeatureFlags(chattr: number): bigint {
  let f = 0n;
  if (chattr & CHATTR_KNOWN) for (const e of fromChattrTable) if (chattr & e.fl) f |= e.f;
  return f;
}

/** ca_feature_flags_to_chattr: CA_FORMAT_WITH_FLAG_* bits → FS_*_FL bits (others ignored). */
export function featureFlagsToChattr(flags: bigint): number {
  let fl = 0;
  if (flags & WITH_CHATTR) for (const e of fromChattrTable) if (flags & e.f) fl |= e.fl;
  return fl >>> 0;
}

/** ca_feature_flags_from_fat_attrs: ATTR_* bits → CA_FORMAT_WITH_FLAG_* bits. */
export function fatToFeatureFlags(attrs: number): bigint {
  let f = 0n;
  if (attrs & FAT_KNOWN) for (const e of fromFatTable) if (attrs & e.a) f |= e.f;
  return f;
}

/** ca_feature_flags_to_fat_attrs: CA_FORMAT_WITH_FLAG_* bits → ATTR_* bits (others ignored). */
export function featureFlagsToFat(flags: bigint): number {
  let a = 0;
  if (flags & WITH_FAT_ATTRS) for (const e of fromFatTable) if (flags & e.f) a |= e.a;
  return a;
}

/** The ENTRY.flags bits of a directory's btrfs subvolume state (read-only implies subvolume). */
export function subvolumeToFeatureFlags(s: { subvolume: boolean; readOnly: boolean }): bigint {
  if (!s.subvolume) return 0n;
  return s.readOnly ? CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO : CA_FORMAT_WITH_SUBVOLUME;
}
