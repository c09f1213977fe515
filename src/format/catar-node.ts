// What one file-system node looks like to the catar encoder and decoder: its raw
// metadata as the file system reports it (the encoder applies the archive's
// feature flags: masking, rounding, which records to write), and its body.
// The tree walker fills it in; extraction receives it back from the decoder.

/** One named entry of a POSIX ACL (ACL_USER / ACL_GROUP and their defaults). */
export interface CatarAclEntry {
  /** uid or gid */
  id: number;
  /** user or group name when known (written with WITH_USER_NAMES), else null */
  name: string | null;
  /** permission bits: read 4, write 2, execute 1 */
  perm: number;
}

/**
 * A node's POSIX ACLs, as casync stores them (casync-format.md §4.2, §4.3).  The
 * permissions of the owner, owning group (or mask) and others live in `mode`.
 */
export interface CatarAcl {
  /** named users and groups of the access ACL */
  user: CatarAclEntry[];
  group: CatarAclEntry[];
  /** the access ACL's GROUP_OBJ permissions when it has a MASK entry, else null */
  groupObj: number | null;
  /** the default ACL (directories), null when there is none */
  default: {
    userObj: number | null;
    groupObj: number | null;
    other: number | null;
    mask: number | null;
    user: CatarAclEntry[];
    group: CatarAclEntry[];
  } | null;
}

export interface CatarXattr {
  name: Uint8Array;
  value: Uint8Array;
}

export interface CatarNode {
  /** st_mode: file type and all permission bits */
  mode: number;
  uid: number;
  gid: number;
  /** st_mtim as signed nanoseconds since the epoch (negative before 1970) */
  mtimeNs: bigint;
  /**
   * CA_FORMAT_WITH_FLAG_* and CA_FORMAT_WITH_SUBVOLUME(_RO) bits the node has
   * (chattr and FAT attributes mapped to feature-flag bits), before masking.
   */
  flags: bigint;
  userName: string | null;
  groupName: string | null;
  /** extended attributes other than ACLs, capabilities and SELinux labels, in any order */
  xattrs: CatarXattr[];
  acl: CatarAcl | null;
  /** SELinux label without the trailing NUL */
  selinux: Uint8Array | null;
  /** raw security.capability value (regular files) */
  fcaps: Uint8Array | null;
  /** ext4/XFS project quota id; 0 for none */
  projid: number;
  /** regular files: payload size */
  size?: number;
  /** symlinks: target bytes */
  target?: Uint8Array;
  /** block and character devices */
  rdev?: { major: number; minor: number };
}

/** A node with the stat fields given and no further metadata (no names, xattrs, ACL, …). */
export function basicNode(mode: number, uid: number, gid: number, mtimeNs: bigint, flags: bigint): CatarNode {
  return {
    mode, uid, gid, mtimeNs, flags,
    userName: null, groupName: null, xattrs: [], acl: null, selinux: null, fcaps: null, projid: 0,
  };
}

// st_mode's file type bits, as the core tests them.
export { S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO } from '../generated/core-constants.ts';
