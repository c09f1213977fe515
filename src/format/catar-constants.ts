// catar record types and fixed values (casync-format.md §4.2, §4.7).  Every record
// is LE64 size (including this 16-byte header), LE64 type, body.

export const CA_FORMAT_ENTRY = 0x1396fabcea5bbb51n;
export const CA_FORMAT_USER = 0xf453131aaeeaccb3n;
export const CA_FORMAT_GROUP = 0x25eb6ac969396a52n;
export const CA_FORMAT_XATTR = 0xb8157091f80bc486n;
export const CA_FORMAT_ACL_USER = 0x297dc88b2ef12fafn;
export const CA_FORMAT_ACL_GROUP = 0x36f2acb56cb3dd0bn;
export const CA_FORMAT_ACL_GROUP_OBJ = 0x23047110441f38f3n;
export const CA_FORMAT_ACL_DEFAULT = 0xfe3eeda6823c8cd0n;
export const CA_FORMAT_ACL_DEFAULT_USER = 0xbdf03df9bd010a91n;
export const CA_FORMAT_ACL_DEFAULT_GROUP = 0xa0cb1168782d1f51n;
export const CA_FORMAT_FCAPS = 0xf7267db0afed0629n;
export const CA_FORMAT_QUOTA_PROJID = 0x161baf2d8772a72bn;
export const CA_FORMAT_SELINUX = 0x46faf0602fd26c59n;
export const CA_FORMAT_SYMLINK = 0x664a6fb6830e0d6cn;
export const CA_FORMAT_DEVICE = 0xac3dace369dfe643n;
export const CA_FORMAT_PAYLOAD = 0x8b9e1d93d6dcffc9n;
export const CA_FORMAT_FILENAME = 0x6dbb6ebcb3161f0bn;
export const CA_FORMAT_GOODBYE = 0xdfd35c5e8327c403n;

export const CA_FORMAT_GOODBYE_TAIL_MARKER = 0x57446fa533702943n;
export const CA_FORMAT_GOODBYE_HASH_KEY = Uint8Array.from([
  0xb3, 0x84, 0x1d, 0x0f, 0x2b, 0x44, 0x74, 0x85, 0xc1, 0x2e, 0xc2, 0xd1, 0x30, 0xed, 0x36, 0x27,
]);

export const CA_FORMAT_HEADER_SIZE = 16;
export const CA_FORMAT_ENTRY_SIZE = 64;
export const CA_FORMAT_GOODBYE_ITEM_SIZE = 24;
export const CA_FORMAT_GOODBYE_TAIL_SIZE = 24;

/** Longest file name (bytes, without the NUL), user/group name, symlink target, SELinux label. */
export const CA_FORMAT_FILENAME_MAX = 255;
export const CA_FORMAT_USER_NAME_MAX = 255;
export const CA_FORMAT_SYMLINK_TARGET_MAX = 4095;
export const CA_FORMAT_SELINUX_LABEL_MAX = 4095;
export const CA_FORMAT_XATTR_NAME_MAX = 255;
export const CA_FORMAT_XATTR_VALUE_MAX = 65536;
export const CA_FORMAT_FCAPS_MAX = 65536;

/** ACL_DEFAULT permission word for an absent entry. */
export const CA_FORMAT_ACL_PERMISSION_ABSENT = 0xffffffffffffffffn;
