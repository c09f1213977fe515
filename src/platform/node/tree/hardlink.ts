// --hardlink=yes: a file the archive holds that a seed tree has already, with the
// same content and the same metadata as extraction restores, becomes a hard link
// to the seed's file instead of a copy (casync compares "hardlink digests" of
// ENTRY through PAYLOAD; comparing the restored file with the candidate is the
// same test).  The extracted copy is written first (its content is only known
// at its end) and replaced by the link, so this saves space, not reading.

import { closeSync, constants, lstatSync, openSync, readSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  CA_FORMAT_WITH_16BIT_UIDS,
  CA_FORMAT_WITH_2SEC_TIME,
  CA_FORMAT_WITH_32BIT_UIDS,
  CA_FORMAT_WITH_ACL,
  CA_FORMAT_WITH_CHATTR,
  CA_FORMAT_WITH_NSEC_TIME,
  CA_FORMAT_WITH_PERMISSIONS,
  CA_FORMAT_WITH_READ_ONLY,
  CA_FORMAT_WITH_SEC_TIME,
  CA_FORMAT_WITH_USEC_TIME,
  CA_FORMAT_WITH_USER_NAMES,
  CA_FORMAT_WITH_FCAPS,
  CA_FORMAT_WITH_SELINUX,
  CA_FORMAT_WITH_XATTRS,
} from '../../../format/feature-flags.ts';
import type { CatarNode } from '../../../format/catar-node.ts';
import type { TreeSeedMap } from '../seeds/tree-seed-map.ts';
import type { LinuxFs } from '../linux/index.ts';
import { NodeReader } from './read-node.ts';
import { fstatPrecise, readAt } from '../io/fd-io.ts';

const MAX_CANDIDATES = 4;
const UID_FLAGS = CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS | CA_FORMAT_WITH_USER_NAMES;
const TIME_FLAGS = CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_USEC_TIME | CA_FORMAT_WITH_NSEC_TIME | CA_FORMAT_WITH_2SEC_TIME;
const COMPARE = 1 << 20;

export class HardLinker {
  private readonly reader: NodeReader;
  private readonly a = Buffer.allocUnsafe(COMPARE);
  private readonly b = Buffer.allocUnsafe(COMPARE);
  linkedBytes = 0;

  constructor(
    private readonly linux: LinuxFs,
    /** the metadata extraction restores (replay flags) */
    private readonly flags: bigint,
    private readonly seeds: readonly TreeSeedMap[],
  ) {
    // Only what is compared as bytes is read: xattrs, ACLs, capabilities, labels, flags.
    this.reader = new NodeReader(flags & (CA_FORMAT_WITH_XATTRS | CA_FORMAT_WITH_FCAPS | CA_FORMAT_WITH_SELINUX | CA_FORMAT_WITH_CHATTR), linux);
  }

  /**
   * If a seed file equals the restored temporary file `tmpFd` (archive node
   * `node`), links it as `name` in `dirfd` and returns true.
   */
  link(tmpFd: number, node: CatarNode, dirfd: number, name: Buffer, tmpLink: Buffer): boolean {
    let tried = 0;
    for (const seed of this.seeds) {
      for (const path of seed.filesOfSize(node.size ?? 0)) {
        if (tried++ >= MAX_CANDIDATES) return false;
        const p = Buffer.from(path);
        if (!this.same(tmpFd, node, p)) continue;
        let parent: number;
        try {
          parent = openSync(dirname(p.toString('latin1')), constants.O_RDONLY | constants.O_DIRECTORY);
        } catch {
          continue;
        }
        try {
          this.linux.linkAt(parent, Buffer.from(basename(p.toString('latin1')), 'latin1'), dirfd, tmpLink);
        } catch {
          continue; // another file system, or not permitted: copy it is
        } finally {
          closeSync(parent);
        }
        this.linux.renameAt(dirfd, tmpLink, dirfd, name);
        this.linkedBytes += node.size ?? 0;
        return true;
      }
    }
    return false;
  }

  private same(tmpFd: number, node: CatarNode, path: Buffer): boolean {
    let fd: number;
    try {
      if (!lstatSync(path).isFile()) return false;
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      const st = fstatPrecise(fd);
      const mine = fstatPrecise(tmpFd);
      const f = this.flags;
      if (st.size !== mine.size) return false;
      if (f & (CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_ACL | CA_FORMAT_WITH_READ_ONLY) && st.mode !== mine.mode) return false;
      if (f & UID_FLAGS && (st.uid !== mine.uid || st.gid !== mine.gid)) return false;
      if (f & TIME_FLAGS && !this.sameTime(st.mtimeNs, mine.mtimeNs)) return false;
      const seed = this.reader.read(path, st, fd, false);
      const restored = this.reader.read(path, mine, tmpFd, false);
      // chattr flags are set after the rename: compare the archive's.
      restored.flags = node.flags & f & CA_FORMAT_WITH_CHATTR;
      seed.flags &= CA_FORMAT_WITH_CHATTR;
      if (!sameNode(seed, restored)) return false;
      return this.sameContent(fd, tmpFd, Number(st.size));
    } finally {
      closeSync(fd);
    }
  }

  /** The restored time is the archive's, rounded to its granularity; the seed's must round to it. */
  private sameTime(seed: bigint, restored: bigint): boolean {
    const f = this.flags;
    const unit = f & CA_FORMAT_WITH_NSEC_TIME ? 1n : f & CA_FORMAT_WITH_USEC_TIME ? 1000n : f & CA_FORMAT_WITH_SEC_TIME ? 1_000_000_000n : 2_000_000_000n;
    return (seed / unit) * unit === restored;
  }

  private sameContent(x: number, y: number, size: number): boolean {
    for (let pos = 0; pos < size; pos += COMPARE) {
      const n = Math.min(COMPARE, size - pos);
      if (readSync(x, this.a, 0, n, pos) !== n || readAt(y, this.b, 0, n, pos) !== n) return false;
      if (this.a.compare(this.b, 0, n, 0, n) !== 0) return false;
    }
    return true;
  }
}

function sameNode(a: CatarNode, b: CatarNode): boolean {
  const xs = (n: CatarNode) =>
    n.xattrs.map((x) => `${Buffer.from(x.name).toString('hex')}=${Buffer.from(x.value).toString('hex')}`).sort().join();
  const bytes = (v: Uint8Array | null) => (v ? Buffer.from(v).toString('hex') : '');
  return (
    a.flags === b.flags &&
    xs(a) === xs(b) &&
    JSON.stringify(a.acl) === JSON.stringify(b.acl) &&
    bytes(a.fcaps) === bytes(b.fcaps) &&
    bytes(a.selinux) === bytes(b.selinux)
  );
}
