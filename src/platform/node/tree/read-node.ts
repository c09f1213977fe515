// Reads what the catar encoder needs about one file-system node, asking only
// for what the archive's feature flags will keep: each extra system call per
// file costs on trees of 10^5 files.

import { readlinkSync } from 'node:fs';
import type { TreeStat } from '../io/fd-io.ts';
import { WasyncError } from '../../../errors.ts';
import {
  CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_CHATTR,
  CA_FORMAT_WITH_FAT_ATTRS,
  CA_FORMAT_WITH_FCAPS,
  CA_FORMAT_WITH_QUOTA_PROJID,
  CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_SUBVOLUME,
  CA_FORMAT_WITH_SUBVOLUME_RO,
  CA_FORMAT_WITH_USER_NAMES,
  CA_FORMAT_WITH_XATTRS,
} from '../../../format/feature-flags.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, basicNode, type CatarNode } from '../../../format/catar-node.ts';
import { major, minor } from '../io/blob-file.ts';
import { FS_MAGIC, aclFromXattrs, chattrToFeatureFlags, fatToFeatureFlags, type AclNameSource, type LinuxFs } from '../linux/index.ts';

const XATTR_ACL_ACCESS = 'system.posix_acl_access';
const XATTR_ACL_DEFAULT = 'system.posix_acl_default';
const XATTR_SELINUX = 'security.selinux';
const XATTR_FCAPS = 'security.capability';

/** What the node readers need that only the Linux adapter provides, checked once. */
export function requireLinux(flags: bigint, linux: LinuxFs | null, why: string | null): void {
  const needs =
    CA_FORMAT_WITH_XATTRS | CA_FORMAT_WITH_ACL | CA_FORMAT_WITH_SELINUX | CA_FORMAT_WITH_FCAPS |
    CA_FORMAT_WITH_CHATTR | CA_FORMAT_WITH_FAT_ATTRS | CA_FORMAT_WITH_QUOTA_PROJID |
    CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_USER_NAMES;
  if (!linux && flags & needs) {
    throw new WasyncError(
      'EUNSUPPORTED',
      `this platform cannot read xattrs, ACLs, file attributes or user names (${why ?? 'no Linux adapter'}); ` +
        'use --with=unix (or --without=… for what is missing) to make an archive without them',
    );
  }
}

/** What read() learnt beyond lstat, for the encoder cache (encoder-cache-file.ts). */
export interface NodeExtras {
  flags: bigint;
  projid: number;
  /** the xattrs read, raw (ACLs, labels and capabilities too) */
  xattrs: [Buffer, Buffer][];
}

export type XattrSource = { list(): Buffer[]; get(name: Buffer): Buffer | null };

export class NodeReader {
  private readonly users = new Map<number, string | null>();
  private readonly groups = new Map<number, string | null>();
  /** set: read() records the xattrs it reads here */
  captured: [Buffer, Buffer][] | null = null;
  /** the flags' tests, made once: each & of two BigInts is a new BigInt, and read() runs per file */
  private readonly want: Record<'chattr' | 'fat' | 'projid' | 'subvolume' | 'names' | 'xattrs', boolean>;
  /** read()'s xattr source, pointed at each node in turn */
  private readonly node = new NodeXattrs();

  constructor(
    private readonly flags: bigint,
    private readonly linux: LinuxFs | null,
  ) {
    const has = (bits: bigint) => (flags & bits) !== 0n;
    this.want = {
      chattr: has(CA_FORMAT_WITH_CHATTR),
      fat: has(CA_FORMAT_WITH_FAT_ATTRS),
      projid: has(CA_FORMAT_WITH_QUOTA_PROJID),
      subvolume: has(CA_FORMAT_WITH_SUBVOLUME | CA_FORMAT_WITH_SUBVOLUME_RO),
      names: has(CA_FORMAT_WITH_USER_NAMES),
      xattrs: has(CA_FORMAT_WITH_XATTRS | CA_FORMAT_WITH_ACL | CA_FORMAT_WITH_SELINUX | CA_FORMAT_WITH_FCAPS),
    };
  }

  /**
   * The node at `path` (lstat result `st`; `fd` open for regular files and
   * directories, else -1).  `apiFs`: the node lives on an API file system, so a
   * regular file is stored empty.  `fsType` (statfs magic) and `chattr` (the
   * FS_IOC_GETFLAGS word, null for none): what the caller has read already for
   * this fd, so that it is not asked again (undefined: not read).
   */
  read(path: Buffer, st: TreeStat, fd: number, apiFs: boolean, fsType?: number, chattr?: number | null): CatarNode {
    const w = this.want;
    const mode = Number(st.mode);
    const type = mode & S_IFMT;
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    const node: CatarNode = basicNode(mode, uid, gid, st.mtimeNs, 0n);
    const linux = this.linux;
    if (linux && fd >= 0) {
      if (w.chattr) {
        const word = chattr === undefined ? linux.getChattrFlags(fd) : chattr;
        if (word) node.flags |= chattrToFeatureFlags(word);
      }
      if (w.fat) {
        const fat = linux.getFatAttributes(fd, fsType);
        if (fat !== null) node.flags |= fatToFeatureFlags(fat);
      }
      // tmpfs keeps no project ids (its FS_IOC_FSGETXATTR answers 0): one ioctl per file saved.
      if (w.projid && fsType !== FS_MAGIC.TMPFS) node.projid = linux.getProjectId(fd) ?? 0;
      if (type === S_IFDIR && w.subvolume) {
        const sv = linux.isBtrfsSubvolume(fd, fsType);
        if (sv.subvolume) node.flags |= CA_FORMAT_WITH_SUBVOLUME;
        if (sv.readOnly) node.flags |= CA_FORMAT_WITH_SUBVOLUME_RO;
      }
    }
    if (linux && w.names) this.names(node, linux);
    // Symlinks carry no xattrs or ACLs in catar.
    if (linux && type !== S_IFLNK && w.xattrs) {
      const source = this.node.at(linux, fd, path, this.captured);
      xattrsInto(this.flags, source, type, node, linux);
    }
    if (type === S_IFREG) node.size = apiFs ? 0 : Number(st.size);
    else if (type === S_IFLNK) node.target = readlinkSync(path, { encoding: 'buffer' });
    else if (type === S_IFBLK || type === S_IFCHR) {
      node.rdev = { major: major(Number(st.rdev)), minor: minor(Number(st.rdev)) };
    }
    return node;
  }

  /** The node's user and group names, each looked up once per id. */
  private names(node: CatarNode, linux: LinuxFs) {
    let user = this.users.get(node.uid);
    if (user === undefined) this.users.set(node.uid, (user = linux.userName(node.uid)));
    let group = this.groups.get(node.gid);
    if (group === undefined) this.groups.set(node.gid, (group = linux.groupName(node.gid)));
    node.userName = user;
    node.groupName = group;
  }

  /**
   * A regular file's node from what an earlier read() learnt (`extras`) and a
   * fresh lstat: the same node read() gives while the file's ctime is the same
   * (a change of chattr flags, xattrs, ACLs or project id changes it).  User and
   * group names are looked up again, as read() does.
   */
  fromExtras(st: TreeStat, extras: NodeExtras): CatarNode {
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    const node: CatarNode = basicNode(Number(st.mode), uid, gid, st.mtimeNs, extras.flags);
    const linux = this.linux;
    if (this.want.projid) node.projid = extras.projid;
    if (linux && this.want.names) this.names(node, linux);
    if (extras.xattrs.length) {
      const values = extras.xattrs;
      xattrsInto(
        this.flags,
        { list: () => values.map(([k]) => k), get: (name) => values.find(([k]) => k.equals(name))?.[1] ?? null },
        S_IFREG,
        node,
        this.linux,
      );
    }
    node.size = Number(st.size);
    return node;
  }
}

/**
 * Fills `node`'s xattrs, ACL, SELinux label and capabilities from what `source`
 * lists, keeping what the flags ask for as casync does (the tar source gives
 * its pax records the same way).  ACL entry names come from `names`.
 */
export function xattrsInto(f: bigint, source: XattrSource, type: number, node: CatarNode, names: AclNameSource | null): void {
  let access: Uint8Array | null = null;
  let dflt: Uint8Array | null = null;
  for (const name of source.list()) {
    const s = name.toString('latin1');
    if (s.startsWith('user.') || s.startsWith('trusted.')) {
      if (!(f & CA_FORMAT_WITH_XATTRS)) continue;
      const value = source.get(name);
      if (value) node.xattrs.push({ name, value });
    } else if (s === XATTR_ACL_ACCESS && f & CA_FORMAT_WITH_ACL) {
      access = source.get(name);
    } else if (s === XATTR_ACL_DEFAULT && f & CA_FORMAT_WITH_ACL && type === S_IFDIR) {
      dflt = source.get(name);
    } else if (s === XATTR_SELINUX && f & CA_FORMAT_WITH_SELINUX) {
      const v = source.get(name);
      if (v) node.selinux = v[v.length - 1] === 0 ? v.subarray(0, v.length - 1) : v;
    } else if (s === XATTR_FCAPS && f & CA_FORMAT_WITH_FCAPS && type === S_IFREG) {
      node.fcaps = source.get(name);
    }
  }
  if (access || dflt) node.acl = aclFromXattrs(access, dflt, names);
}

/** An xattr source over one node at a time (its descriptor, else its path), recording what it reads when asked. */
class NodeXattrs implements XattrSource {
  private linux!: LinuxFs;
  private fd = -1;
  private path!: Buffer;
  private captured: [Buffer, Buffer][] | null = null;

  at(linux: LinuxFs, fd: number, path: Buffer, captured: [Buffer, Buffer][] | null): this {
    this.linux = linux;
    this.fd = fd;
    this.path = path;
    this.captured = captured;
    return this;
  }

  list(): Buffer[] {
    return this.fd >= 0 ? this.linux.listXattrsFd(this.fd) : this.linux.listXattrs(this.path);
  }

  get(name: Buffer): Buffer | null {
    const v = this.fd >= 0 ? this.linux.getXattrFd(this.fd, name) : this.linux.getXattr(this.path, name);
    if (v && this.captured) this.captured.push([name, v]);
    return v;
  }
}
