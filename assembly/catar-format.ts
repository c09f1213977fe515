// catar record types, sizes, limits and feature flags for the wasm core's
// encoder and decoder, with casync's names (casync-format.md §3.1, §4.2), and
// casync's normalization of feature flags.  The host takes the same values from
// src/generated/core-constants.ts (see constants.ts) and calls this
// normalization through the core's exports.

export const CA_FORMAT_ENTRY: u64 = 0x1396fabcea5bbb51;
export const CA_FORMAT_USER: u64 = 0xf453131aaeeaccb3;
export const CA_FORMAT_GROUP: u64 = 0x25eb6ac969396a52;
export const CA_FORMAT_XATTR: u64 = 0xb8157091f80bc486;
export const CA_FORMAT_ACL_USER: u64 = 0x297dc88b2ef12faf;
export const CA_FORMAT_ACL_GROUP: u64 = 0x36f2acb56cb3dd0b;
export const CA_FORMAT_ACL_GROUP_OBJ: u64 = 0x23047110441f38f3;
export const CA_FORMAT_ACL_DEFAULT: u64 = 0xfe3eeda6823c8cd0;
export const CA_FORMAT_ACL_DEFAULT_USER: u64 = 0xbdf03df9bd010a91;
export const CA_FORMAT_ACL_DEFAULT_GROUP: u64 = 0xa0cb1168782d1f51;
export const CA_FORMAT_FCAPS: u64 = 0xf7267db0afed0629;
export const CA_FORMAT_QUOTA_PROJID: u64 = 0x161baf2d8772a72b;
export const CA_FORMAT_SELINUX: u64 = 0x46faf0602fd26c59;
export const CA_FORMAT_SYMLINK: u64 = 0x664a6fb6830e0d6c;
export const CA_FORMAT_DEVICE: u64 = 0xac3dace369dfe643;
export const CA_FORMAT_PAYLOAD: u64 = 0x8b9e1d93d6dcffc9;
export const CA_FORMAT_FILENAME: u64 = 0x6dbb6ebcb3161f0b;
export const CA_FORMAT_GOODBYE: u64 = 0xdfd35c5e8327c403;
export const CA_FORMAT_GOODBYE_TAIL_MARKER: u64 = 0x57446fa533702943;

export const CA_FORMAT_HEADER_SIZE: u32 = 16;
export const CA_FORMAT_ENTRY_SIZE: u32 = 64;
export const CA_FORMAT_GOODBYE_ITEM_SIZE: u32 = 24;

export const CA_FORMAT_FILENAME_MAX: u32 = 255;
export const CA_FORMAT_USER_NAME_MAX: u32 = 255;
export const CA_FORMAT_SYMLINK_TARGET_MAX: u32 = 4095;
export const CA_FORMAT_SELINUX_LABEL_MAX: u32 = 4095;
export const CA_FORMAT_XATTR_NAME_MAX: u32 = 255;
export const CA_FORMAT_XATTR_VALUE_MAX: u32 = 65536;
export const CA_FORMAT_FCAPS_MAX: u32 = 65536;

export const CA_FORMAT_WITH_16BIT_UIDS: u64 = 0x1;
export const CA_FORMAT_WITH_32BIT_UIDS: u64 = 0x2;
export const CA_FORMAT_WITH_USER_NAMES: u64 = 0x4;
export const CA_FORMAT_WITH_SEC_TIME: u64 = 0x8;
export const CA_FORMAT_WITH_USEC_TIME: u64 = 0x10;
export const CA_FORMAT_WITH_NSEC_TIME: u64 = 0x20;
export const CA_FORMAT_WITH_2SEC_TIME: u64 = 0x40;
export const CA_FORMAT_WITH_READ_ONLY: u64 = 0x80;
export const CA_FORMAT_WITH_PERMISSIONS: u64 = 0x100;
export const CA_FORMAT_WITH_SYMLINKS: u64 = 0x200;
export const CA_FORMAT_WITH_DEVICE_NODES: u64 = 0x400;
export const CA_FORMAT_WITH_FIFOS: u64 = 0x800;
export const CA_FORMAT_WITH_SOCKETS: u64 = 0x1000;
export const CA_FORMAT_WITH_FAT_ATTRS: u64 = 0xe000;
export const CA_FORMAT_WITH_CHATTR: u64 = 0x3ff0000;
export const CA_FORMAT_WITH_SUBVOLUME: u64 = 0x4000000;
export const CA_FORMAT_WITH_SUBVOLUME_RO: u64 = 0x8000000;
export const CA_FORMAT_WITH_XATTRS: u64 = 0x10000000;
export const CA_FORMAT_WITH_ACL: u64 = 0x20000000;
export const CA_FORMAT_WITH_SELINUX: u64 = 0x40000000;
export const CA_FORMAT_WITH_FCAPS: u64 = 0x80000000;
export const CA_FORMAT_WITH_QUOTA_PROJID: u64 = 0x100000000;
export const CA_FORMAT_EXCLUDE_NODUMP: u64 = 0x8000000000000000;
export const CA_FORMAT_WITH_FLAG_NODUMP: u64 = 0x100000;
export const CA_FORMAT_FEATURE_FLAGS_MAX: u64 = 0xf0000001ffffffff;

export const UID_BITS: u64 = CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS;

export const S_IFMT: u32 = 0o170000;
export const S_IFSOCK: u32 = 0o140000;
export const S_IFLNK: u32 = 0o120000;
export const S_IFREG: u32 = 0o100000;
export const S_IFBLK: u32 = 0o060000;
export const S_IFDIR: u32 = 0o040000;
export const S_IFCHR: u32 = 0o020000;
export const S_IFIFO: u32 = 0o010000;

/** casync's normalization (§3.3), in its order; a value casync writes is a fixed point. */
export function normalizeFeatureFlags(flags: u64): u64 {
  let f = flags;
  if ((f & CA_FORMAT_WITH_ACL) != 0 && (f & (UID_BITS | CA_FORMAT_WITH_USER_NAMES)) == 0) {
    f |= CA_FORMAT_WITH_32BIT_UIDS | CA_FORMAT_WITH_USER_NAMES;
  }
  if (f & CA_FORMAT_WITH_32BIT_UIDS) f &= ~CA_FORMAT_WITH_16BIT_UIDS;
  if (f & CA_FORMAT_WITH_NSEC_TIME) {
    f &= ~(CA_FORMAT_WITH_USEC_TIME | CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_2SEC_TIME);
  }
  if (f & CA_FORMAT_WITH_USEC_TIME) f &= ~(CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_2SEC_TIME);
  if (f & CA_FORMAT_WITH_SEC_TIME) f &= ~CA_FORMAT_WITH_2SEC_TIME;
  if (f & CA_FORMAT_WITH_ACL) f &= ~(CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_READ_ONLY);
  if (f & CA_FORMAT_WITH_PERMISSIONS) f &= ~CA_FORMAT_WITH_READ_ONLY;
  if (f & CA_FORMAT_EXCLUDE_NODUMP) f &= ~CA_FORMAT_WITH_FLAG_NODUMP;
  if (f & CA_FORMAT_WITH_SUBVOLUME_RO) f |= CA_FORMAT_WITH_SUBVOLUME;
  return f;
}

