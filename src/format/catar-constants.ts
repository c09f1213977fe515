// catar record types and fixed values (casync-format.md §4.2, §4.7).  Every record
// is LE64 size (including this 16-byte header), LE64 type, body.  Those the wasm
// core uses too come from it (src/generated/core-constants.ts); the rest are the
// host's own.

export {
  CA_FORMAT_ENTRY, CA_FORMAT_USER, CA_FORMAT_GROUP, CA_FORMAT_XATTR, CA_FORMAT_ACL_USER, CA_FORMAT_ACL_GROUP,
  CA_FORMAT_ACL_GROUP_OBJ, CA_FORMAT_ACL_DEFAULT, CA_FORMAT_ACL_DEFAULT_USER, CA_FORMAT_ACL_DEFAULT_GROUP,
  CA_FORMAT_FCAPS, CA_FORMAT_QUOTA_PROJID, CA_FORMAT_SELINUX, CA_FORMAT_SYMLINK, CA_FORMAT_DEVICE,
  CA_FORMAT_PAYLOAD, CA_FORMAT_FILENAME, CA_FORMAT_GOODBYE, CA_FORMAT_GOODBYE_TAIL_MARKER,
  CA_FORMAT_HEADER_SIZE, CA_FORMAT_ENTRY_SIZE, CA_FORMAT_GOODBYE_ITEM_SIZE,
  // longest file name (bytes, without the NUL), user/group name, symlink target, SELinux label, …
  CA_FORMAT_FILENAME_MAX, CA_FORMAT_USER_NAME_MAX, CA_FORMAT_SYMLINK_TARGET_MAX, CA_FORMAT_SELINUX_LABEL_MAX,
  CA_FORMAT_XATTR_NAME_MAX, CA_FORMAT_XATTR_VALUE_MAX, CA_FORMAT_FCAPS_MAX,
  // wasync's own: how many directories deep an entry may lie (casync's decoder stops at 64)
  DEPTH_MAX,
} from '../generated/core-constants.ts';

export const CA_FORMAT_GOODBYE_HASH_KEY = Uint8Array.from([
  0xb3, 0x84, 0x1d, 0x0f, 0x2b, 0x44, 0x74, 0x85, 0xc1, 0x2e, 0xc2, 0xd1, 0x30, 0xed, 0x36, 0x27,
]);

export const CA_FORMAT_GOODBYE_TAIL_SIZE = 24;

/** ACL_DEFAULT permission word for an absent entry. */
export const CA_FORMAT_ACL_PERMISSION_ABSENT = 0xffffffffffffffffn;
