// Restores a node's metadata after extraction, in casync's order: owner, mode,
// ACLs, xattrs, capabilities, SELinux label, times; then (after the caller has
// renamed the node into place) chattr and FAT attributes and the project id,
// since +i or +a would forbid the rename.  What is restored is what both the
// archive and the replay flags (--with/--without) carry.  A node is addressed by
// an open descriptor (files, directories) or by its directory and name (symlinks,
// devices, FIFOs, sockets); nothing follows a symlink.

import { chmodSync } from 'node:fs';
import { chownFd } from '../io/fd-io.ts';
import { WasyncError } from '../../../errors.ts';
import {
  CA_FORMAT_WITH_16BIT_UIDS,
  CA_FORMAT_WITH_2SEC_TIME,
  CA_FORMAT_WITH_32BIT_UIDS,
  CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_CHATTR,
  CA_FORMAT_WITH_FAT_ATTRS,
  CA_FORMAT_WITH_FCAPS,
  CA_FORMAT_WITH_NSEC_TIME,
  CA_FORMAT_WITH_PERMISSIONS,
  CA_FORMAT_WITH_QUOTA_PROJID,
  CA_FORMAT_WITH_READ_ONLY,
  CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_USEC_TIME,
  CA_FORMAT_WITH_USER_NAMES,
  CA_FORMAT_WITH_XATTRS,
} from '../../../format/feature-flags.ts';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type CatarNode } from '../../../format/catar-node.ts';
import { aclToXattrs, featureFlagsToChattr, featureFlagsToFat, type LinuxFs } from '../linux/index.ts';

const TIME_FLAGS = CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_USEC_TIME | CA_FORMAT_WITH_NSEC_TIME | CA_FORMAT_WITH_2SEC_TIME;
const UID_FLAGS = CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS | CA_FORMAT_WITH_USER_NAMES;
const ACL_ACCESS = Buffer.from('system.posix_acl_access');
const ACL_DEFAULT = Buffer.from('system.posix_acl_default');
const FCAPS = Buffer.from('security.capability');
const SELINUX = Buffer.from('security.selinux');
const NOT_SUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOTTY']);
const U64 = 1n << 64n;

/** --uid-shift / --uid-range: uid = uid mod range + shift (casync's ca_decoder_shift_uid). */
export interface UidShift {
  shift: number;
  /** 0 = the whole 32-bit range */
  range: number;
}

/** Where a node is: its descriptor, or its directory and (temporary) name. */
export type NodeRef = { fd: number; path: () => string } | { dirfd: number; name: Buffer; path: () => string };

/**
 * What a node just created by extraction cannot have, so restoring need not
 * look or clear: it has no xattrs or capabilities, and, when its directory was
 * created by this extraction too, no inherited default ACL or chattr flags.
 */
export interface Fresh {
  created: boolean;
  inheritsNothing: boolean;
  /** the owner and permission bits it was created with, when known */
  owner?: { uid: number; gid: number } | null;
  mode?: number | null;
}

const EXISTING: Fresh = { created: false, inheritsNothing: false };

export class MetadataApplier {
  private ownershipWarned = false;
  /** the flags' tests, made once: each & of two BigInts is a new BigInt, and these run per file */
  private readonly want: Record<'owner' | 'names' | 'mode' | 'keepMode' | 'acl' | 'xattrs' | 'fcaps' | 'selinux' | 'times' | 'chattr' | 'fat' | 'projid', boolean>;
  private readonly chattrMask: number;
  private readonly fatMask: number;

  constructor(
    private readonly linux: LinuxFs,
    /** what to restore: the archive's flags masked by --with/--without */
    flags: bigint,
    private readonly shift: UidShift | null,
    private readonly warn: (message: string) => void,
  ) {
    const has = (bits: bigint) => (flags & bits) !== 0n;
    this.want = {
      owner: has(UID_FLAGS),
      names: has(CA_FORMAT_WITH_USER_NAMES),
      mode: has(CA_FORMAT_WITH_READ_ONLY | CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_ACL),
      // read-only archives keep what the umask gave
      keepMode: has(CA_FORMAT_WITH_READ_ONLY) && !has(CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_ACL),
      acl: has(CA_FORMAT_WITH_ACL),
      xattrs: has(CA_FORMAT_WITH_XATTRS),
      fcaps: has(CA_FORMAT_WITH_FCAPS),
      selinux: has(CA_FORMAT_WITH_SELINUX),
      times: has(TIME_FLAGS),
      chattr: has(CA_FORMAT_WITH_CHATTR),
      fat: has(CA_FORMAT_WITH_FAT_ATTRS),
      projid: has(CA_FORMAT_WITH_QUOTA_PROJID),
    };
    this.chattrMask = featureFlagsToChattr(flags);
    this.fatMask = featureFlagsToFat(flags);
  }

  /**
   * Everything but the attributes that would block a rename.  Each step is
   * guarded by a try of its own rather than a closure: these run once per
   * extracted file, and a closure here would be garbage per file.
   */
  beforeRename(ref: NodeRef, node: CatarNode, fresh: Fresh = EXISTING) {
    const w = this.want;
    const type = node.mode & S_IFMT;
    let what = 'owner';
    try {
      const chowned = this.owner(ref, node, fresh);
      if (w.mode && type !== S_IFLNK) {
        const mode = this.mode(node);
        what = 'mode';
        // chown may have cleared set-id bits, so then chmod anyway.
        if (chowned || fresh.mode !== mode) this.chmod(ref, mode);
      }
      what = 'ACLs';
      if (w.acl && type !== S_IFLNK && (node.acl || !fresh.inheritsNothing)) this.acl(ref, node);
      if ('fd' in ref && type !== S_IFLNK) {
        what = 'xattrs';
        if (w.xattrs && (node.xattrs.length || !fresh.created)) this.xattrs(ref.fd, node, fresh.created);
        what = 'capabilities';
        if (w.fcaps && type === S_IFREG && (node.fcaps || !fresh.created)) this.fcaps(ref.fd, node);
      }
      if (w.selinux && node.selinux) {
        what = 'SELinux label';
        const label = Buffer.concat([node.selinux, Buffer.from([0])]);
        if ('fd' in ref) this.linux.setXattrFd(ref.fd, SELINUX, label);
        else this.linux.setXattr(procPath(ref), SELINUX, label);
      }
      if (w.times) {
        what = 'times';
        const mtime = signedNs(node.mtimeNs);
        if ('fd' in ref) this.linux.setTimesFd(ref.fd, null, mtime);
        else this.linux.setTimes(ref.dirfd, ref.name, null, mtime);
      }
    } catch (e) {
      throw this.wrap(e, ref, what);
    }
  }

  /** chattr and FAT attributes, project id: after the node is in place. */
  afterRename(fd: number, node: CatarNode, path: () => string, fresh: Fresh = EXISTING) {
    const w = this.want;
    const type = node.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) return;
    // (Most nodes have no flags: then no BigInt is made for them.)
    const flags = node.flags;
    let what = 'file attributes';
    try {
      if (w.chattr && ((flags !== 0n && (flags & CA_FORMAT_WITH_CHATTR) !== 0n) || !fresh.inheritsNothing)) {
        this.linux.setChattrFlags(fd, featureFlagsToChattr(flags), this.chattrMask);
      }
      what = 'FAT attributes';
      if (w.fat && flags !== 0n && (flags & CA_FORMAT_WITH_FAT_ATTRS) !== 0n) {
        this.linux.setFatAttributes(fd, featureFlagsToFat(flags), this.fatMask);
      }
      what = 'project id';
      if (w.projid && node.projid) this.linux.setProjectId(fd, node.projid);
    } catch (e) {
      throw this.wrap(e, { fd, path }, what);
    }
  }

  /** Sets the owner unless the node already has it; true if it changed it. */
  private owner(ref: NodeRef, node: CatarNode, fresh: Fresh): boolean {
    if (!this.want.owner) return false;
    const names = this.want.names;
    const uid = names && node.userName != null ? this.idOf(ref, node.userName, 'user') : this.shifted(node.uid);
    const gid = names && node.groupName != null ? this.idOf(ref, node.groupName, 'group') : this.shifted(node.gid);
    if (fresh.owner && fresh.owner.uid === uid && fresh.owner.gid === gid) return false;
    try {
      if ('fd' in ref) chownFd(ref.fd, uid, gid);
      else this.linux.chownAt(ref.dirfd, ref.name, uid, gid);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      if (!this.ownershipWarned) this.warn('owners and groups are not restored: not permitted (run as root)');
      this.ownershipWarned = true;
      return false;
    }
  }

  /** The id of a user or group archived by name. */
  private idOf(ref: NodeRef, name: string, what: 'user' | 'group'): number {
    // A decimal name is the id casync wrote for an owner it had no name for.
    if (/^[1-9][0-9]*$/.test(name)) return this.shifted(Number(name));
    const id = what === 'user' ? this.linux.userId(name) : this.linux.groupId(name);
    if (id === null) throw new WasyncError('EOUTPUT', `${ref.path()}: ${what} "${name}" does not exist here`);
    return id;
  }

  private shifted(id: number): number {
    if (!this.shift) return id;
    const v = (this.shift.range ? id % this.shift.range : id) + this.shift.shift;
    if (v > 0xfffffffe) throw new WasyncError('EUSAGE', `uid/gid ${id} shifted by ${this.shift.shift} leaves the 32-bit range`);
    return v;
  }

  /** The permission bits to set (casync-format.md §4.4; read-only archives keep what the umask gave, adjusting writability). */
  mode(node: CatarNode): number {
    if (!this.want.keepMode) return node.mode & 0o7777;
    const isDir = (node.mode & S_IFMT) === S_IFDIR;
    const base = isDir ? 0o755 : 0o644;
    return node.mode & 0o222 ? base | 0o200 : base & ~0o222;
  }

  private chmod(ref: NodeRef, mode: number) {
    if ('fd' in ref) this.linux.chmodFd(ref.fd, mode);
    else chmodSync(procPath(ref), mode); // a device, FIFO or socket we just created
  }

  private acl(ref: NodeRef, node: CatarNode) {
    const v = aclToXattrs(node.mode, node.acl, this.linux);
    const set = (name: Buffer, value: Buffer) =>
      'fd' in ref ? this.linux.setXattrFd(ref.fd, name, value) : this.linux.setXattr(procPath(ref), name, value);
    try {
      set(ACL_ACCESS, v.access);
      if (v.default) set(ACL_DEFAULT, v.default);
    } catch (e) {
      // A file system without ACLs loses nothing when there are none to restore.
      if (!v.required && NOT_SUPPORTED.has((e as NodeJS.ErrnoException).code ?? '')) return;
      throw this.wrap(e, ref, 'ACLs');
    }
  }

  private xattrs(fd: number, node: CatarNode, created: boolean) {
    const want = new Map(node.xattrs.map((x) => [Buffer.from(x.name).toString('latin1'), x.value]));
    for (const name of created ? [] : this.linux.listXattrsFd(fd)) {
      const s = name.toString('latin1');
      if ((s.startsWith('user.') || s.startsWith('trusted.')) && !want.has(s)) this.linux.removeXattrFd(fd, name);
    }
    for (const [name, value] of want) this.linux.setXattrFd(fd, Buffer.from(name, 'latin1'), value);
  }

  private fcaps(fd: number, node: CatarNode) {
    if (node.fcaps) this.linux.setXattrFd(fd, FCAPS, node.fcaps);
    else if (this.linux.getXattrFd(fd, FCAPS)) this.linux.removeXattrFd(fd, FCAPS);
  }

  private wrap(e: unknown, ref: NodeRef, what: string): Error {
    if (e instanceof WasyncError) return e;
    const err = e as NodeJS.ErrnoException;
    return new WasyncError('EOUTPUT', `${ref.path()}: cannot restore ${what}: ${err.code ?? ''} ${err.message}`);
  }
}

/** The stored mtime is unsigned 64-bit; times before 1970 wrapped around. */
export const signedNs = (v: bigint): bigint => (v >= 1n << 63n ? v - U64 : v);

const procPath = (ref: { dirfd: number; name: Buffer }) =>
  Buffer.concat([Buffer.from(`/proc/self/fd/${ref.dirfd}/`), ref.name]);
