// The tree a tar describes, as GNU tar run as root would leave it on disk
// (`tar -x --same-owner --xattrs --xattrs-include='*' --acls --numeric-owner`),
// held in memory as catar nodes so that it can be written in casync's order:
// metadata only (bounded per entry: the reader bounds extended headers), file
// data left where it is (the tar, or the spool: see tar-input.ts).
//
// What extraction does, and so what happens here:
//   * a later entry replaces an earlier one at the same path; a directory
//     entry over a directory only changes its metadata;
//   * a hard link is a second name for the inode its target has at that
//     moment: the same metadata and data (casync has no hard links either, and
//     archives each name as a whole file);
//   * a directory the tar names only as a parent (or the top, when there is no
//     "./" entry) is one tar would create: mode 0755, owned by 0:0, and here
//     mtime 0 (tar would leave the time of the extraction, which no archive
//     can reproduce);
//   * symlinks are mode 0777, whatever the header says;
//   * owners are the numeric uid and gid; user and group names are the tar's
//     uname/gname, or, where it has none, the local names of the ids (casync's
//     lookup); ACL entries are named as casync names them, by local lookup;
//   * ACLs come from the raw system.posix_acl_* xattrs when the tar has them
//     (GNU tar --xattrs), else from SCHILY.acl.access/default text, whose
//     names are looked up here as acl_from_text looks them up on extraction;
//     an access ACL sets the mode's permission bits, as it does on disk.

import { formatError } from '../../../errors.ts';
import { basicNode, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, type CatarNode } from '../../../format/catar-node.ts';
import { CA_FORMAT_WITH_USER_NAMES } from '../../../format/feature-flags.ts';
import type { TarEntry } from '../../../format/tar-reader.ts';
import type { SparseRegion } from '../../../format/tar-sparse.ts';
import { ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_UNDEFINED_ID, ACL_USER, ACL_USER_OBJ, formatAclXattr, parseAclXattr, type AclXattrEntry, type LinuxFs } from '../linux/index.ts';
import { xattrsInto } from './read-node.ts';

/** One node of the tree; `children` for directories, keyed by the name's latin1 string. */
export interface TarTreeNode {
  name: Buffer;
  node: CatarNode;
  children: Map<string, TarTreeNode> | null;
  /** regular files: where the data starts in the data file (the tar or the spool) */
  dataAt: number;
  /** a sparse file's data regions, stored back to back from dataAt */
  sparse: SparseRegion[] | null;
}

const TYPE_BITS: Record<TarEntry['type'], number> = {
  file: S_IFREG, hardlink: S_IFREG, symlink: S_IFLNK, chardev: S_IFCHR, blockdev: S_IFBLK, directory: S_IFDIR, fifo: S_IFIFO,
};
const ACCESS = Buffer.from('system.posix_acl_access');
const DEFAULT = Buffer.from('system.posix_acl_default');

/**
 * The mode an access ACL leaves when it is set (the kernel's doing): owner and
 * other bits from USER_OBJ and OTHER, group bits from MASK, else GROUP_OBJ.
 * bsdtar's headers carry GROUP_OBJ where stat() would show the mask.
 */
function aclMode(mode: number, access: Uint8Array, fail: (why: string) => Error): number {
  let entries: AclXattrEntry[];
  try {
    entries = parseAclXattr(access);
  } catch (e) {
    throw fail(`its access ACL is malformed (${(e as Error).message})`);
  }
  const perm = (tag: number) => entries.find((e) => e.tag === tag)?.perm;
  const u = perm(ACL_USER_OBJ);
  const g = perm(ACL_MASK) ?? perm(ACL_GROUP_OBJ);
  const o = perm(ACL_OTHER);
  if (u === undefined || g === undefined || o === undefined) return mode;
  return (mode & ~0o777) | ((u & 7) << 6) | ((g & 7) << 3) | (o & 7);
}

const implied = (name: Buffer): TarTreeNode => ({ name, node: basicNode(S_IFDIR | 0o755, 0, 0, 0n, 0n), children: new Map(), dataAt: 0, sparse: null });

/**
 * A path's first n components as one string, to compare paths in one step:
 * the span of the entry's path they cover (the reader's components are views
 * of it).  Two spellings of one path ("a//b", "a/b") differ, which only costs
 * a walk.
 */
function joined(names: Uint8Array[], n: number): string {
  if (!n) return '';
  const first = names[0];
  const last = names[n - 1];
  return Buffer.from(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset).toString('latin1');
}

export class TarTree {
  readonly root = implied(Buffer.alloc(0));
  /**
   * The last entry's directory, and the last entry if it is one: where the
   * next entry goes, mostly, found without walking down from the top (which
   * would make a deep tree's entries cost the square of its depth).  Both stay
   * valid whatever the next entry replaces: they are reset by every entry.
   */
  private recent: { path: string; node: TarTreeNode }[] = [];

  constructor(
    private readonly flags: bigint,
    private readonly linux: LinuxFs | null,
    private readonly file: string,
  ) {}

  /** Adds an entry; `dataAt`: where its data was put (regular files). */
  add(e: TarEntry, dataAt: number): void {
    const fail = (why: string) => formatError(this.file, e.offset, `entry "${e.path}": ${why}`);
    if (!e.names.length) {
      if (e.type !== 'directory') throw fail('the top of the archive is not a directory');
      this.root.node = this.node(e, fail);
      return;
    }
    const n = e.names.length;
    const parentPath = joined(e.names, n - 1);
    const parent = this.recent.find((r) => r.path === parentPath)?.node ?? this.walk(e.names, n - 1, true, fail)!;
    this.recent = [{ path: parentPath, node: parent }];
    const name = Buffer.from(e.names[n - 1]);
    const key = name.toString('latin1');
    const old = parent.children!.get(key);
    if (e.type === 'hardlink') {
      const target = this.walk(e.linkNames!, e.linkNames!.length, false, fail);
      if (!target) throw fail(`a hard link to "${Buffer.from(e.linkTarget!).toString()}", which no earlier entry made`);
      if (target.children) throw fail(`a hard link to the directory "${Buffer.from(e.linkTarget!).toString()}"`);
      if (target !== old) parent.children!.set(key, { ...target, name });
      return;
    }
    const node = this.node(e, fail);
    let made: TarTreeNode;
    if (e.type === 'directory' && old?.children) (made = old).node = node;
    else parent.children!.set(key, (made = { name, node, children: e.type === 'directory' ? new Map() : null, dataAt, sparse: e.sparse }));
    if (made.children) this.recent.push({ path: joined(e.names, n), node: made });
  }

  /** The node at names[0..n) (missing directories made on the way when `make`), or null. */
  private walk(names: Uint8Array[], n: number, make: boolean, fail: (why: string) => Error): TarTreeNode | null {
    let at = this.root;
    for (let i = 0; i < n; i++) {
      const key = Buffer.from(names[i]).toString('latin1');
      let next = at.children!.get(key);
      if (!next) {
        if (!make) return null;
        next = implied(Buffer.from(names[i]));
        at.children!.set(key, next);
      } else if (!next.children && (make || i < n - 1)) {
        if (!make) return null;
        const parent = names.slice(0, i + 1).map((b) => Buffer.from(b).toString()).join('/');
        throw fail(`its parent "${parent}" is not a directory in the archive`);
      }
      at = next;
    }
    return at;
  }

  private node(e: TarEntry, fail: (why: string) => Error): CatarNode {
    const type = TYPE_BITS[e.type];
    const node = basicNode(type | (type === S_IFLNK ? 0o777 : e.mode), e.uid, e.gid, e.mtimeNs, 0n);
    const linux = this.linux;
    if (this.flags & CA_FORMAT_WITH_USER_NAMES) {
      node.userName = e.uname ?? linux?.userName(e.uid) ?? null;
      node.groupName = e.gname ?? linux?.groupName(e.gid) ?? null;
    }
    if (type !== S_IFLNK) {
      const x = new Map<string, Buffer<ArrayBufferLike>>(e.xattrs.map(({ name, value }) => [name, Buffer.from(value)]));
      if (e.aclAccess !== null && !x.has(ACCESS.toString())) x.set(ACCESS.toString(), this.aclXattr(e.aclAccess, fail));
      if (e.aclDefault !== null && !x.has(DEFAULT.toString())) x.set(DEFAULT.toString(), this.aclXattr(e.aclDefault, fail));
      const access = x.get(ACCESS.toString());
      if (access) node.mode = aclMode(node.mode, access, fail);
      if (x.size) xattrsInto(this.flags, { list: () => [...x.keys()].map((k) => Buffer.from(k)), get: (n) => x.get(n.toString()) ?? null }, type, node, linux);
    }
    if (type === S_IFREG) node.size = e.size;
    else if (type === S_IFLNK) node.target = e.linkTarget!;
    else if (type === S_IFCHR || type === S_IFBLK) node.rdev = { major: e.devMajor, minor: e.devMinor };
    return node;
  }

  /**
   * acl_to_text's form ("user::rw-\nuser:bob:r--\n…", or comma-separated with
   * star's and bsdtar's fourth field, the id) as the kernel's xattr value.
   */
  private aclXattr(text: string, fail: (why: string) => Error): Buffer {
    const entries: AclXattrEntry[] = [];
    for (const raw of text.split(/[\n,]/)) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const f = line.split(':');
      const bad = () => fail(`ACL entry "${line}" is not understood`);
      if (f.length < 3 || f.length > 4) throw bad();
      const [tagName, qualifier, perms] = f;
      if (!/^[r-][w-][x-]$/.test(perms)) throw bad();
      const perm = (perms[0] === 'r' ? 4 : 0) | (perms[1] === 'w' ? 2 : 0) | (perms[2] === 'x' ? 1 : 0);
      const user = tagName === 'user' || tagName === 'u';
      const group = tagName === 'group' || tagName === 'g';
      if (!qualifier) {
        const tag = user ? ACL_USER_OBJ : group ? ACL_GROUP_OBJ : tagName === 'mask' || tagName === 'm' ? ACL_MASK : tagName === 'other' || tagName === 'o' ? ACL_OTHER : -1;
        if (tag < 0) throw bad();
        entries.push({ tag, perm, id: ACL_UNDEFINED_ID });
        continue;
      }
      if (!user && !group) throw bad();
      // The name as it resolves here (as GNU tar and bsdtar resolve it), else the id star and bsdtar add.
      let id: number | null = /^[0-9]+$/.test(qualifier) ? Number(qualifier) : this.linux ? (user ? this.linux.userId(qualifier) : this.linux.groupId(qualifier)) : null;
      if (id === null && f.length === 4 && /^[0-9]+$/.test(f[3])) id = Number(f[3]);
      if (id === null) throw fail(`its ACL names ${user ? 'user' : 'group'} "${qualifier}", which does not exist here`);
      entries.push({ tag: user ? ACL_USER : ACL_GROUP, perm, id });
    }
    return formatAclXattr(entries);
  }
}
