// The file system a mounted archive (.catar, or the stream of a .caidx) shows:
// the FuseFs of fuse-session.ts over goodbye-table lookups (CatarLookup) and the
// records of single nodes (CatarNodeReader), so that a lookup, a stat or a
// listing reads only the bytes it concerns, never the whole archive.
//
// Node ids are archive offsets: a node's id (and inode number) is the offset of
// its ENTRY plus one, which makes the root (ENTRY at 0) FUSE_ROOT_ID and keeps
// ids stable for the life of the mount.  The table of known nodes holds what the
// kernel has looked up, with its reference count (dropped on FORGET), each
// node's decoded records and, for directories, their children once listed.
// Listing a directory also decodes all its children's records in one decoder
// run, and later lookups in it find names in the listing: `ls -l` or `find`
// then cost one table walk per directory rather than one per name.
//
// What a node shows: mode, owner (numeric ids), mtime (also as atime and ctime,
// as casync's mount does), size, symlink target, device numbers; xattrs are the
// archive's user.* and trusted.* ones, then its ACLs as system.posix_acl_access
// and system.posix_acl_default (the kernel's xattr form, numeric ids), its file
// capabilities as security.capability and its SELinux label as security.selinux
// (NUL-terminated, as extraction writes it).  The chattr and FAT attributes
// recorded in ENTRY.flags answer FS_IOC_GETFLAGS and FAT_IOCTL_GET_ATTRIBUTES,
// and the project id FS_IOC_FSGETXATTR, so that `make --with=fuse` from the
// mount reads back what the archive holds.

import type { ReadAt } from '../../../engine/random-access.ts';
import type { CatarLookup, CatarNodeLocation } from '../../../format/catar-lookup.ts';
import { CatarNodeReader, type NodeRecords } from '../../../format/catar-node-records.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type CatarNode } from '../../../format/catar-node.ts';
import { aclToXattrs, featureFlagsToChattr, featureFlagsToFat, POSIX_ACL_XATTR_ACCESS, POSIX_ACL_XATTR_DEFAULT } from '../linux/index.ts';
import { FuseError, type FuseDirEntry, type FuseFs, type FuseXattr } from './fuse-session.ts';
import { encodeDev, errno, FUSE_ROOT_ID, type FuseAttr, type StatfsOut } from './fuse-protocol.ts';

/** _IOR('f', 1, long), _IOR('r', 0x10, __u32), _IOR('X', 31, struct fsxattr) */
export const FS_IOC_GETFLAGS = 0x80086601;
export const FAT_IOCTL_GET_ATTRIBUTES = 0x80047210;
export const FS_IOC_FSGETXATTR = 0x801c581f;

// FS_XFLAG_* of struct fsxattr, for the chattr flags that have one.
const XFLAGS: [number, number][] = [
  [0x10, 0x8], // FS_IMMUTABLE_FL → FS_XFLAG_IMMUTABLE
  [0x20, 0x10], // FS_APPEND_FL → FS_XFLAG_APPEND
  [0x8, 0x20], // FS_SYNC_FL → FS_XFLAG_SYNC
  [0x80, 0x40], // FS_NOATIME_FL → FS_XFLAG_NOATIME
  [0x40, 0x80], // FS_NODUMP_FL → FS_XFLAG_NODUMP
  [0x20000000, 0x200], // FS_PROJINHERIT_FL → FS_XFLAG_PROJINHERIT
];

const utf8 = (s: string) => Buffer.from(s, 'latin1');
const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;

/** A little-endian word, cut or zero-extended to what the caller's ioctl holds. */
export function ioctlWord(value: number, outSize: number): Uint8Array {
  const b = Buffer.alloc(Math.max(4, outSize));
  b.writeUInt32LE(value >>> 0, 0);
  return b.subarray(0, outSize);
}

/** A node's fuse_attr. */
export function nodeAttr(ino: number, node: CatarNode): FuseAttr {
  const type = node.mode & S_IFMT;
  return {
    ino,
    size: type === S_IFREG ? (node.size ?? 0) : type === S_IFLNK ? (node.target?.length ?? 0) : 0,
    mtimeNs: BigInt.asIntN(64, node.mtimeNs),
    mode: node.mode,
    nlink: 1,
    uid: node.uid,
    gid: node.gid,
    rdev: (type === S_IFBLK || type === S_IFCHR) && node.rdev ? encodeDev(node.rdev.major, node.rdev.minor) : 0,
  };
}

/** The xattrs a node shows (see the top of this file). */
export function nodeXattrs(node: CatarNode): FuseXattr[] {
  const out: FuseXattr[] = node.xattrs.map((x) => ({ name: x.name, value: x.value }));
  const acl = node.acl;
  if (acl) {
    const values = aclToXattrs(node.mode, acl, null);
    if (acl.user.length || acl.group.length || acl.groupObj !== null) out.push({ name: utf8(POSIX_ACL_XATTR_ACCESS), value: values.access });
    if (acl.default && values.default && values.default.length > 4) out.push({ name: utf8(POSIX_ACL_XATTR_DEFAULT), value: values.default });
  }
  if (node.fcaps) out.push({ name: utf8('security.capability'), value: node.fcaps });
  if (node.selinux) out.push({ name: utf8('security.selinux'), value: Buffer.concat([node.selinux, Buffer.from([0])]) });
  return out;
}

/** The answer to the attribute ioctls, from ENTRY.flags and the project id. */
export function attributeIoctl(node: CatarNode, cmd: number, outSize: number): Uint8Array {
  const chattr = featureFlagsToChattr(node.flags);
  if (cmd === FS_IOC_GETFLAGS) return ioctlWord(chattr, outSize);
  if (cmd === FAT_IOCTL_GET_ATTRIBUTES) return ioctlWord(featureFlagsToFat(node.flags), outSize);
  if (cmd === FS_IOC_FSGETXATTR) {
    const b = Buffer.alloc(28);
    b.writeUInt32LE(XFLAGS.reduce((x, [fl, xf]) => (chattr & fl ? x | xf : x), 0), 0);
    b.writeUInt32LE(node.projid >>> 0, 12);
    return b.subarray(0, Math.min(28, outSize));
  }
  throw new FuseError(errno.ENOTTY);
}

/** A listed directory: its children, by name, and their records decoded together. */
interface Kids {
  entries: FuseDirEntry[];
  byName: Map<string, CatarNodeLocation>;
  /** by ENTRY offset; null if the batch failed (each node is then decoded alone) */
  records: Promise<Map<number, NodeRecords> | null>;
}

interface Inode {
  id: number;
  loc: CatarNodeLocation;
  parent: number;
  /** references the kernel holds (lookups not yet forgotten) */
  refs: number;
  records: Promise<NodeRecords> | null;
  kids: Promise<Kids> | null;
}

const nameKey = (name: Uint8Array) => Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');

interface Handle {
  inode: Inode;
  /** where the last read ended, to tell sequential reading */
  lastEnd: number;
}

export interface ArchiveFsOptions {
  /** told the archive range a sequential reader will want next (to fetch chunks early) */
  readAhead?(offset: number, length: number): void;
  /** bytes to announce ahead of a sequential reader (default 8 MiB) */
  readAheadBytes?: number;
}

export class ArchiveFs implements FuseFs {
  private readonly nodes = new Map<number, Inode>();
  private readonly handles = new Map<number, Handle>();
  private readonly records: CatarNodeReader;
  private readonly data: ReadAt;
  private nextHandle = 1;

  constructor(
    private readonly lookupTable: CatarLookup,
    root: CatarNodeLocation,
    private readonly o: ArchiveFsOptions = {},
  ) {
    this.records = new CatarNodeReader(lookupTable);
    this.data = lookupTable.r;
    this.nodes.set(FUSE_ROOT_ID, { id: FUSE_ROOT_ID, loc: root, parent: FUSE_ROOT_ID, refs: 1, records: null, kids: null });
  }

  /** Nodes the kernel holds references to (for tests and statistics). */
  get knownNodes(): number {
    return this.nodes.size;
  }

  private inode(id: number): Inode {
    const n = this.nodes.get(id);
    if (!n) throw new FuseError(errno.ESTALE, `unknown node id ${id}`);
    return n;
  }

  private recordsOf(n: Inode): Promise<NodeRecords> {
    if (!n.records) {
      n.records = this.records.read(n.loc);
      // A failed read (a chunk missing for now) is tried again next time.
      n.records.catch(() => (n.records = null));
    }
    return n.records;
  }

  async lookup(parent: number, name: Uint8Array): Promise<{ nodeid: number; attr: FuseAttr } | null> {
    const dir = this.inode(parent);
    if (!isDir(dir.loc.mode)) throw new FuseError(errno.ENOTDIR);
    const kids = dir.kids && (await dir.kids.catch(() => null));
    const loc = kids ? (kids.byName.get(nameKey(name)) ?? null) : await this.lookupTable.child(dir.loc, name);
    if (!loc) return null;
    const id = loc.entryOffset + 1;
    let n = this.nodes.get(id);
    if (!n) {
      n = { id, loc, parent, refs: 0, records: null, kids: null };
      this.nodes.set(id, n);
    }
    const batch = kids && (await kids.records)?.get(loc.entryOffset);
    if (batch && !n.records) n.records = Promise.resolve(batch);
    let node: CatarNode;
    try {
      node = (await this.recordsOf(n)).node;
    } catch (e) {
      if (n.refs === 0 && this.nodes.get(id) === n) this.nodes.delete(id);
      throw e;
    }
    // Counted only once the reply is certain: the kernel forgets only what it got.
    n.refs++;
    if (!this.nodes.has(id)) this.nodes.set(id, n);
    return { nodeid: id, attr: nodeAttr(id, node) };
  }

  forget(nodeid: number, count: number): void {
    const n = this.nodes.get(nodeid);
    if (!n || nodeid === FUSE_ROOT_ID) return;
    n.refs -= count;
    if (n.refs <= 0) this.nodes.delete(nodeid);
  }

  async getattr(nodeid: number): Promise<FuseAttr> {
    const n = this.inode(nodeid);
    return nodeAttr(nodeid, (await this.recordsOf(n)).node);
  }

  async readlink(nodeid: number): Promise<Uint8Array> {
    const { node } = await this.recordsOf(this.inode(nodeid));
    if (!node.target) throw new FuseError(errno.EINVAL);
    return node.target;
  }

  async open(nodeid: number, dir: boolean): Promise<number> {
    const n = this.inode(nodeid);
    if (dir !== isDir(n.loc.mode)) throw new FuseError(dir ? errno.ENOTDIR : errno.EISDIR);
    const fh = this.nextHandle++;
    this.handles.set(fh, { inode: n, lastEnd: 0 });
    return fh;
  }

  release(fh: number): void {
    this.handles.delete(fh);
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new FuseError(errno.EBADF);
    return h;
  }

  async read(fh: number, offset: number, size: number): Promise<Uint8Array> {
    const h = this.handle(fh);
    const { node, payloadOffset } = await this.recordsOf(h.inode);
    if (payloadOffset === null) throw new FuseError(errno.EISDIR);
    const total = node.size ?? 0;
    const length = Math.max(0, Math.min(size, total - offset));
    if (length === 0) return new Uint8Array(0);
    const ahead = this.o.readAheadBytes ?? 8 << 20;
    // Reads within a few MiB of the last one's end count as sequential: the
    // kernel's read-ahead sends neighbouring ranges concurrently, slightly out of order.
    if (this.o.readAhead && Math.abs(offset - h.lastEnd) <= 4 << 20 && offset + length < total) {
      const from = offset + length;
      this.o.readAhead(payloadOffset + from, Math.min(ahead, total - from));
    }
    h.lastEnd = Math.max(h.lastEnd, offset + length);
    return this.data.read(payloadOffset + offset, length);
  }

  async readdir(fh: number): Promise<readonly FuseDirEntry[]> {
    const n = this.handle(fh).inode;
    if (!n.kids) {
      n.kids = this.list(n);
      n.kids.catch(() => (n.kids = null));
    }
    return (await n.kids).entries;
  }

  private async list(n: Inode): Promise<Kids> {
    const children = await this.lookupTable.children(n.loc);
    const dot = (name: string, ino: number): FuseDirEntry => ({ name: utf8(name), ino, type: S_IFDIR >> 12 });
    const entries = [dot('.', n.id), dot('..', n.parent)];
    const byName = new Map<string, CatarNodeLocation>();
    for (const c of children) {
      const name = c.name!;
      entries.push({ name, ino: c.entryOffset + 1, type: (c.mode & S_IFMT) >> 12 });
      byName.set(nameKey(name), c);
    }
    // Not awaited: the listing is answered now, lookups wait for the records.
    const records = this.records.readChildren(n.loc, children).then(
      (all) => new Map(all.map((r, k) => [children[k].entryOffset, r])),
      () => null,
    );
    return { entries, byName, records };
  }

  statfs(): StatfsOut {
    return { blocks: Math.ceil(this.data.size / 4096), files: 0, bsize: 4096, namelen: 255 };
  }

  async xattrs(nodeid: number): Promise<readonly FuseXattr[]> {
    return nodeXattrs((await this.recordsOf(this.inode(nodeid))).node);
  }

  async ioctl(nodeid: number, cmd: number, outSize: number): Promise<Uint8Array> {
    const n = this.inode(nodeid);
    if (![FS_IOC_GETFLAGS, FAT_IOCTL_GET_ATTRIBUTES, FS_IOC_FSGETXATTR].includes(cmd)) throw new FuseError(errno.ENOTTY);
    return attributeIoctl((await this.recordsOf(n)).node, cmd, outSize);
  }
}
