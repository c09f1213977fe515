// --hardlink=yes: a file the archive holds that a seed tree has already, with the
// same content and the same metadata as extraction restores, becomes a hard link
// to the seed's file instead of a copy (casync compares "hardlink digests" of
// ENTRY through PAYLOAD; comparing the restored file with the candidate is the
// same test).  The extracted copy is written first (its content is only known
// at its end) and replaced by the link, so this saves space, not reading.
//
// casync finds any seed file by its digest.  Here the seed file at the same
// path is tried first (an update leaves most files where they were), then the
// seeds' other files of the same size and modification time: the seed files of
// a size are looked at (lstat) once, when a file of that size first asks, so
// many files of one size cost one stat each, not one per pair.

import { closeSync, constants, openSync, readSync, type BigIntStats } from 'node:fs';
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
import { fstatPrecise, lstatPrecise, readAt } from '../io/fd-io.ts';

/** Candidates of one size and time tried for a file, and how many of those are read. */
const MAX_CANDIDATES = 64;
const MAX_COMPARED = 8;
const SLASH = Buffer.from('/');
const UID_FLAGS = CA_FORMAT_WITH_16BIT_UIDS | CA_FORMAT_WITH_32BIT_UIDS | CA_FORMAT_WITH_USER_NAMES;
const TIME_FLAGS = CA_FORMAT_WITH_SEC_TIME | CA_FORMAT_WITH_USEC_TIME | CA_FORMAT_WITH_NSEC_TIME | CA_FORMAT_WITH_2SEC_TIME;
const COMPARE = 1 << 20;

/** A seed tree: the directory as given (its files' paths begin with it) and its map. */
export interface HardlinkSeed {
  root: string;
  map: TreeSeedMap;
}

export class HardLinker {
  private readonly reader: NodeReader;
  private readonly a = Buffer.allocUnsafe(COMPARE);
  private readonly b = Buffer.allocUnsafe(COMPARE);
  /** seed files by size, then by modification time in the archive's unit */
  private readonly bySize = new Map<number, Map<bigint, Buffer[]>>();
  linkedBytes = 0;

  constructor(
    private readonly linux: LinuxFs,
    /** the metadata extraction restores (replay flags) */
    private readonly flags: bigint,
    private readonly seeds: readonly HardlinkSeed[],
  ) {
    // Only what is compared as bytes is read: xattrs, ACLs, capabilities, labels, flags.
    this.reader = new NodeReader(flags & (CA_FORMAT_WITH_XATTRS | CA_FORMAT_WITH_FCAPS | CA_FORMAT_WITH_SELINUX | CA_FORMAT_WITH_CHATTR), linux);
  }

  /**
   * If a seed file equals the restored temporary file `tmpFd` (archive node
   * `node`, at `rel` below the target), links it as `name` in `dirfd` and
   * returns true.
   */
  link(tmpFd: number, node: CatarNode, rel: Buffer, dirfd: number, name: Buffer, tmpLink: Buffer): boolean {
    const mine = fstatPrecise(tmpFd);
    let looked = 0;
    let compared = 0;
    const tried = new Set<string>();
    for (const path of this.candidates(node.size ?? 0, rel, mine.mtimeNs)) {
      const key = path.toString('latin1');
      if (tried.has(key)) continue;
      tried.add(key);
      if (looked++ >= MAX_CANDIDATES || compared >= MAX_COMPARED) return false;
      const st = lstatPrecise(path);
      if (!st || !st.isFile() || !this.sameStat(st, mine)) continue;
      compared++;
      if (!this.same(tmpFd, mine, node, path)) continue;
      let parent: number;
      try {
        parent = openSync(dirname(key), constants.O_RDONLY | constants.O_DIRECTORY);
      } catch {
        continue;
      }
      try {
        this.linux.linkAt(parent, Buffer.from(basename(key), 'latin1'), dirfd, tmpLink);
      } catch {
        continue; // another file system, or not permitted: copy it is
      } finally {
        closeSync(parent);
      }
      this.linux.renameAt(dirfd, tmpLink, dirfd, name);
      this.linkedBytes += node.size ?? 0;
      return true;
    }
    return false;
  }

  /** The seed files at the same path first, then the seeds' other files of this size and time. */
  private *candidates(size: number, rel: Buffer, mtime: bigint): Generator<Buffer> {
    for (const s of this.seeds) {
      const path = Buffer.concat([Buffer.from(s.root), SLASH, rel]);
      if (s.map.holdsFile(path)) yield path;
    }
    yield* this.ofSize(size).get(this.timeKey(mtime)) ?? [];
  }

  private ofSize(size: number): Map<bigint, Buffer[]> {
    let byTime = this.bySize.get(size);
    if (byTime) return byTime;
    byTime = new Map();
    for (const s of this.seeds) {
      for (const p of s.map.filesOfSize(size)) {
        const path = Buffer.from(p.buffer, p.byteOffset, p.length);
        const st = lstatPrecise(path);
        if (!st?.isFile()) continue;
        const key = this.timeKey(st.mtimeNs);
        const same = byTime.get(key);
        if (same) same.push(path);
        else byTime.set(key, [path]);
      }
    }
    this.bySize.set(size, byTime);
    return byTime;
  }

  /** Times that restore alike, alike (all alike when times are not restored). */
  private timeKey(ns: bigint): bigint {
    return this.flags & TIME_FLAGS ? ns / this.timeUnit() : 0n;
  }

  private timeUnit(): bigint {
    const f = this.flags;
    return f & CA_FORMAT_WITH_NSEC_TIME ? 1n : f & CA_FORMAT_WITH_USEC_TIME ? 1000n : f & CA_FORMAT_WITH_SEC_TIME ? 1_000_000_000n : 2_000_000_000n;
  }

  /** What lstat shows of what extraction restores: size, and mode, owner and time where restored. */
  private sameStat(st: BigIntStats, mine: BigIntStats): boolean {
    const f = this.flags;
    if (st.size !== mine.size) return false;
    if (f & (CA_FORMAT_WITH_PERMISSIONS | CA_FORMAT_WITH_ACL | CA_FORMAT_WITH_READ_ONLY) && st.mode !== mine.mode) return false;
    if (f & UID_FLAGS && (st.uid !== mine.uid || st.gid !== mine.gid)) return false;
    return !(f & TIME_FLAGS) || this.sameTime(st.mtimeNs, mine.mtimeNs);
  }

  private same(tmpFd: number, mine: BigIntStats, node: CatarNode, path: Buffer): boolean {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      // Checked again on the descriptor: the path may have been replaced since.
      const st = fstatPrecise(fd);
      if (!st.isFile() || !this.sameStat(st, mine)) return false;
      const seed = this.reader.read(path, st, fd, false);
      const restored = this.reader.read(path, mine, tmpFd, false);
      // chattr flags are set after the rename: compare the archive's.
      restored.flags = node.flags & this.flags & CA_FORMAT_WITH_CHATTR;
      seed.flags &= CA_FORMAT_WITH_CHATTR;
      if (!sameNode(seed, restored)) return false;
      return this.sameContent(fd, tmpFd, Number(st.size));
    } finally {
      closeSync(fd);
    }
  }

  /** The restored time is the archive's, rounded to its granularity; the seed's must round to it. */
  private sameTime(seed: bigint, restored: bigint): boolean {
    const unit = this.timeUnit();
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
