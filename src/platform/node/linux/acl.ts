// POSIX ACLs between the kernel's xattr form and casync's records (CatarAcl).
//
// Kernel form (system.posix_acl_access / system.posix_acl_default): LE32 version
// 2, then 8-byte entries {LE16 tag, LE16 perm, LE32 id}; id is 0xffffffff except
// for named users and groups; entries ordered by tag (the kernel rejects other
// orders).  A header without entries, written as the default ACL, removes it.
//
// casync keeps only what the mode cannot say (casync-format.md §4.3, §4.4): the
// owner, "group" and other permissions live in the mode, and when the access ACL
// has a MASK the mode's group bits *are* the mask (stat() reports them so), so
// the real GROUP_OBJ permissions go into ACL_GROUP_OBJ, written only when a MASK
// exists.  Restoring follows cadecoder.c: USER_OBJ and OTHER from the mode; with
// a recorded GROUP_OBJ, MASK from the mode's group bits plus that GROUP_OBJ,
// otherwise GROUP_OBJ from the mode's group bits; then the named entries, each
// found by name when it has one (decimal names are ids, an unknown name is an
// error, as in casync).  The access ACL is always written (a minimal one just
// sets the mode); a directory's default ACL is always written too, empty when
// there is none, so extraction over an existing tree removes a stale one.
//
// Pure functions: the caller does the xattr calls and the name lookups.

import type { CatarAcl, CatarAclEntry } from '../../../format/catar-node.ts';
import { S_IFDIR, S_IFMT } from '../../../format/catar-node.ts';

export const POSIX_ACL_XATTR_ACCESS = 'system.posix_acl_access';
export const POSIX_ACL_XATTR_DEFAULT = 'system.posix_acl_default';
const POSIX_ACL_XATTR_VERSION = 2;

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
export const ACL_UNDEFINED_ID = 0xffffffff;

export interface AclXattrEntry {
  tag: number;
  /** read 4, write 2, execute 1 */
  perm: number;
  /** uid or gid for ACL_USER and ACL_GROUP, ACL_UNDEFINED_ID otherwise */
  id: number;
}

/** Where names for ACL entries come from when reading (LinuxFs has these). */
export interface AclNameSource {
  userName(uid: number): string | null;
  groupName(gid: number): string | null;
}

/** Where ids for named ACL entries come from when restoring (LinuxFs has these). */
export interface AclIdSource {
  userId(name: string): number | null;
  groupId(name: string): number | null;
}

function aclError(code: 'EINVAL' | 'EBADMSG' | 'ESRCH', message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Decodes a system.posix_acl_* value; throws EBADMSG on a malformed one. */
export function parseAclXattr(value: Uint8Array): AclXattrEntry[] {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (b.length < 4 || (b.length - 4) % 8 !== 0) throw aclError('EBADMSG', `POSIX ACL xattr of ${b.length} bytes`);
  const version = b.readUInt32LE(0);
  if (version !== POSIX_ACL_XATTR_VERSION) throw aclError('EBADMSG', `POSIX ACL xattr version ${version}, expected 2`);
  const out: AclXattrEntry[] = [];
  for (let off = 4; off < b.length; off += 8) {
    out.push({ tag: b.readUInt16LE(off), perm: b.readUInt16LE(off + 2), id: b.readUInt32LE(off + 4) });
  }
  return out;
}

const TAG_ORDER = [ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER];

/** Encodes entries as a system.posix_acl_* value, in the order the kernel requires. */
export function formatAclXattr(entries: readonly AclXattrEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag || a.id - b.id);
  const b = Buffer.alloc(4 + 8 * sorted.length);
  b.writeUInt32LE(POSIX_ACL_XATTR_VERSION, 0);
  sorted.forEach((e, i) => {
    if (!TAG_ORDER.includes(e.tag)) throw aclError('EINVAL', `unknown ACL tag 0x${e.tag.toString(16)}`);
    b.writeUInt16LE(e.tag, 4 + 8 * i);
    b.writeUInt16LE(e.perm & 7, 6 + 8 * i);
    b.writeUInt32LE(e.tag === ACL_USER || e.tag === ACL_GROUP ? e.id >>> 0 : ACL_UNDEFINED_ID, 8 + 8 * i);
  });
  return b;
}

/** casync's compare_acl_entry: id, then unnamed first, then name bytes, then permissions. */
export function compareAclEntries(a: CatarAclEntry, b: CatarAclEntry): number {
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  if (a.name === null || b.name === null) {
    if (a.name !== b.name) return a.name === null ? -1 : 1;
  } else if (a.name !== b.name) {
    const c = Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
    if (c) return c;
  }
  return a.perm - b.perm;
}

interface Parsed {
  userObj: number | null;
  groupObj: number | null;
  other: number | null;
  mask: number | null;
  user: CatarAclEntry[];
  group: CatarAclEntry[];
}

function collect(value: Uint8Array, names: AclNameSource | null | undefined): Parsed {
  const p: Parsed = { userObj: null, groupObj: null, other: null, mask: null, user: [], group: [] };
  for (const e of parseAclXattr(value)) {
    const perm = e.perm & 7;
    switch (e.tag) {
      case ACL_USER_OBJ: p.userObj = perm; break;
      case ACL_GROUP_OBJ: p.groupObj = perm; break;
      case ACL_OTHER: p.other = perm; break;
      case ACL_MASK: p.mask = perm; break;
      case ACL_USER:
      case ACL_GROUP: {
        if (e.id === ACL_UNDEFINED_ID) throw aclError('EINVAL', 'named ACL entry without an id');
        const user = e.tag === ACL_USER;
        // casync never names id 0: "root" is implied.
        const name = e.id === 0 || !names ? null : user ? names.userName(e.id) : names.groupName(e.id);
        (user ? p.user : p.group).push({ id: e.id, name, perm });
        break;
      }
      default:
        throw aclError('EBADMSG', `unknown ACL tag 0x${e.tag.toString(16)}`);
    }
  }
  p.user.sort(compareAclEntries);
  p.group.sort(compareAclEntries);
  return p;
}

/**
 * What casync records of a node's ACLs, from the raw xattr values (null where the
 * xattr is absent; pass no default for non-directories).  Null when the ACLs add
 * nothing to the mode.  Names come from `names` (id 0 never gets one).
 */
export function aclFromXattrs(
  access: Uint8Array | null,
  dflt: Uint8Array | null,
  names?: AclNameSource | null,
): CatarAcl | null {
  const acl: CatarAcl = { user: [], group: [], groupObj: null, default: null };
  if (access) {
    const a = collect(access, names);
    acl.user = a.user;
    acl.group = a.group;
    // Only with a mask does stat() hide GROUP_OBJ behind the mask bits.
    if (a.groupObj !== null && a.mask !== null) acl.groupObj = a.groupObj;
  }
  if (dflt) {
    const d = collect(dflt, names);
    const objects = d.userObj !== null || d.groupObj !== null || d.other !== null || d.mask !== null;
    if (objects || d.user.length || d.group.length) {
      const { userObj, groupObj, other, mask, user, group } = d;
      acl.default = { userObj, groupObj, other, mask, user, group };
    }
  }
  const empty = !acl.user.length && !acl.group.length && acl.groupObj === null && acl.default === null;
  return empty ? null : acl;
}

export interface AclXattrValues {
  /** value for system.posix_acl_access */
  access: Buffer;
  /** value for system.posix_acl_default (directories only; header-only = remove), else null */
  default: Buffer | null;
  /**
   * whether the node has ACL records; when false the caller may ignore ENOTSUP
   * from a file system without ACLs, as casync does, since nothing is lost
   */
  required: boolean;
}

export interface AclRestoreOptions {
  /** what an entry whose name is unknown here gets: an error (casync) or its archived id */
  unknownNames?: 'error' | 'use-id';
}

const checkPerm = (p: number | null, what: string): number => {
  if (p === null || !Number.isInteger(p) || p < 0 || p > 7) throw aclError('EINVAL', `ACL ${what} permissions ${p}`);
  return p;
};

/**
 * The xattr values that restore `acl` on a node whose archived st_mode is `mode`
 * (cadecoder.c's ca_decoder_child_to_acl and _to_default_acl).
 */
export function aclToXattrs(
  mode: number,
  acl: CatarAcl | null,
  ids?: AclIdSource | null,
  options: AclRestoreOptions = {},
): AclXattrValues {
  const resolve = (e: CatarAclEntry, user: boolean): AclXattrEntry => {
    const tag = user ? ACL_USER : ACL_GROUP;
    const perm = checkPerm(e.perm, user ? 'user' : 'group');
    let id = e.id;
    if (e.name !== null && ids) {
      const found = /^[0-9]+$/.test(e.name) ? Number(e.name) : user ? ids.userId(e.name) : ids.groupId(e.name);
      if (found !== null) id = found;
      else if (options.unknownNames !== 'use-id') {
        throw aclError('ESRCH', `ACL names ${user ? 'user' : 'group'} "${e.name}", which does not exist here`);
      }
    }
    if (!Number.isInteger(id) || id < 0 || id >= ACL_UNDEFINED_ID) throw aclError('EINVAL', `ACL entry with id ${id}`);
    return { tag, perm, id };
  };
  const named = (users: readonly CatarAclEntry[], groups: readonly CatarAclEntry[]) => [
    ...users.map((e) => resolve(e, true)),
    ...groups.map((e) => resolve(e, false)),
  ];
  const u = (mode >> 6) & 7;
  const g = (mode >> 3) & 7;
  const o = mode & 7;
  const access: AclXattrEntry[] = [
    { tag: ACL_USER_OBJ, perm: u, id: ACL_UNDEFINED_ID },
    { tag: ACL_OTHER, perm: o, id: ACL_UNDEFINED_ID },
  ];
  if (acl && acl.groupObj !== null) {
    access.push({ tag: ACL_MASK, perm: g, id: ACL_UNDEFINED_ID });
    access.push({ tag: ACL_GROUP_OBJ, perm: checkPerm(acl.groupObj, 'group-obj'), id: ACL_UNDEFINED_ID });
  } else {
    if (acl && (acl.user.length || acl.group.length)) {
      throw aclError('EINVAL', 'ACL has named entries but no ACL_GROUP_OBJ (the mask would be lost)');
    }
    access.push({ tag: ACL_GROUP_OBJ, perm: g, id: ACL_UNDEFINED_ID });
  }
  if (acl) access.push(...named(acl.user, acl.group));

  let dflt: Buffer | null = null;
  if ((mode & S_IFMT) === S_IFDIR) {
    const entries: AclXattrEntry[] = [];
    const d = acl?.default;
    if (d && d.userObj !== null) {
      entries.push({ tag: ACL_USER_OBJ, perm: checkPerm(d.userObj, 'default user-obj'), id: ACL_UNDEFINED_ID });
      entries.push({ tag: ACL_GROUP_OBJ, perm: checkPerm(d.groupObj, 'default group-obj'), id: ACL_UNDEFINED_ID });
      entries.push({ tag: ACL_OTHER, perm: checkPerm(d.other, 'default other'), id: ACL_UNDEFINED_ID });
      if (d.mask !== null) {
        entries.push({ tag: ACL_MASK, perm: checkPerm(d.mask, 'default mask'), id: ACL_UNDEFINED_ID });
      } else if (d.user.length || d.group.length) {
        throw aclError('EINVAL', 'default ACL has named entries but no mask');
      }
      entries.push(...named(d.user, d.group));
    }
    dflt = formatAclXattr(entries);
  }
  return { access: formatAclXattr(access), default: dflt, required: acl !== null };
}
