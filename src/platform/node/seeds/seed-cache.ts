// The persistent seed index: a seed chunked once is remembered, so the next
// update from the same seed skips chunking it again (casync chunks every seed
// anew before every extraction).  Entries live in $XDG_CACHE_HOME/wasync/seeds
// (default ~/.cache/wasync/seeds), one file each, named by a digest of what they
// depend on: the kind of seed, its real path, the chunk sizes, the digest and
// (trees) the feature flags.
//
// Layout of an entry file: "WASYNCSD", LE32 version, LE32 length of a JSON
// header {fingerprint, count, tree?}, the JSON, then `count` LE64 float chunk
// end offsets, `count` × 32-byte ids, and for a tree the TreeSeedMap snapshot
// (starts and sources as float64 arrays, the record arena, the payload list
// as LE32 path length, float64 size, path bytes).
//
// An entry is used only if the seed's fingerprint is unchanged: device, inode,
// size, mtime and ctime for a file; size for a block device (whose timestamps
// say nothing about its contents); for a tree, a digest of every entry's lstat
// (a changed, added or removed file changes it).  A file or device entry must
// also pass a spot check: a few of its chunks are read and hashed again.  The
// extraction verifies every seed chunk anyway, so a stale entry can only cost
// store fetches, never wrong data; an extraction that meets seed chunks that no
// longer match drops the entries it used (forget), and they are rebuilt.

import { lstatSync, mkdirSync, readdirSync, realpathSync, readFileSync, readSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { TreeSeedMap } from './tree-seed-map.ts';

const MAGIC = Buffer.from('WASYNCSD');
const VERSION = 1;
const SPOT_CHECKS = 8;
const MAX_ENTRIES = 64;

export interface SeedParams {
  min: number;
  avg: number;
  max: number;
  digest: DigestName;
  /** trees: the index's feature flags */
  featureFlags?: bigint;
}

/** Chunk i covers [ends[i - 1] (or 0), ends[i]) of the seed. */
export interface ChunkList {
  ends: Float64Array;
  ids: Uint8Array;
}

interface Header {
  fingerprint: string;
  count: number;
  tree?: { starts: number; sources: number; arena: number; payloads: number; size: number };
}

export class SeedCache {
  constructor(readonly dir: string) {}

  /** The cache of this user, or null when there is no home to keep it in. */
  static open(): SeedCache | null {
    const base = process.env.XDG_CACHE_HOME || (process.env.HOME || homedir() ? join(process.env.HOME || homedir(), '.cache') : '');
    return base ? new SeedCache(join(base, 'wasync', 'seeds')) : null;
  }

  key(kind: 'blob' | 'tree', path: string, p: SeedParams): string {
    let real = path;
    try {
      real = realpathSync(path);
    } catch {}
    const what = JSON.stringify([kind, real, p.min, p.avg, p.max, p.digest, String(p.featureFlags ?? '')]);
    return createHash('sha256').update(what).digest('hex').slice(0, 40);
  }

  /** A file or block device's chunks, if remembered and still right. */
  loadBlob(key: string, fd: number, size: number, st: BigIntStats, digest: DigestName): ChunkList | null {
    const entry = this.read(key, blobFingerprint(st, size));
    if (!entry || entry.header.tree) return null;
    const { list } = entry;
    if (list.ends.length ? list.ends[list.ends.length - 1] !== size : size !== 0) return null;
    return spotCheck(fd, list, digest) ? list : (this.forget(key), null);
  }

  saveBlob(key: string, size: number, st: BigIntStats, list: ChunkList) {
    this.write(key, { fingerprint: blobFingerprint(st, size), count: list.ends.length }, list, null);
  }

  loadTree(key: string, dir: string): { list: ChunkList; map: TreeSeedMap } | null {
    const entry = this.read(key, treeFingerprint(dir));
    return entry?.map ? { list: entry.list, map: entry.map } : null;
  }

  /** `fingerprint`: treeFingerprint(dir) taken before the tree was encoded. */
  saveTree(key: string, fingerprint: string, list: ChunkList, map: TreeSeedMap) {
    this.write(key, { fingerprint, count: list.ends.length }, list, map);
  }

  forget(key: string) {
    try {
      unlinkSync(join(this.dir, key));
    } catch {}
  }

  private read(key: string, fingerprint: string): { header: Header; list: ChunkList; map: TreeSeedMap | null } | null {
    let b: Buffer;
    try {
      b = readFileSync(join(this.dir, key));
    } catch {
      return null;
    }
    try {
      if (!b.subarray(0, 8).equals(MAGIC) || b.readUInt32LE(8) !== VERSION) return null;
      const jsonEnd = 16 + b.readUInt32LE(12);
      const header = JSON.parse(b.subarray(16, jsonEnd).toString('utf8')) as Header;
      if (header.fingerprint !== fingerprint) return null;
      const r = new Reader(b, jsonEnd);
      const list = { ends: r.floats(header.count), ids: r.bytes(header.count * CHUNK_ID_SIZE) };
      let map: TreeSeedMap | null = null;
      if (header.tree) {
        const t = header.tree;
        const starts = r.floats(t.starts);
        const sources = r.floats(t.sources);
        const arena = r.bytes(t.arena);
        const payloads = Array.from({ length: t.payloads }, () => {
          const len = r.u32();
          const size = r.floats(1)[0];
          return { path: r.bytes(len), size };
        });
        map = TreeSeedMap.restore({ starts, sources, arena, payloads, size: t.size });
      }
      if (r.at !== b.length) return null;
      const now = new Date();
      utimesSync(join(this.dir, key), now, now); // most recently used, for eviction
      return { header, list, map };
    } catch {
      return null; // a damaged entry is as good as none; it will be rewritten
    }
  }

  private write(key: string, header: Header, list: ChunkList, map: TreeSeedMap | null) {
    const parts: Uint8Array[] = [];
    if (map) {
      const s = map.snapshot();
      header.tree = { starts: s.starts.length, sources: s.sources.length, arena: s.arena.length, payloads: s.payloads.length, size: s.size };
      parts.push(bytesOf(s.starts), bytesOf(s.sources), s.arena);
      for (const p of s.payloads) {
        const head = Buffer.alloc(12);
        head.writeUInt32LE(p.path.length, 0);
        head.writeDoubleLE(p.size, 4);
        parts.push(head, p.path);
      }
    }
    const json = Buffer.from(JSON.stringify(header));
    const pre = Buffer.alloc(16);
    MAGIC.copy(pre);
    pre.writeUInt32LE(VERSION, 8);
    pre.writeUInt32LE(json.length, 12);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = join(this.dir, `.${key}.${process.pid}.tmp`);
      writeFileSync(tmp, Buffer.concat([pre, json, bytesOf(list.ends), list.ids, ...parts]), { mode: 0o600 });
      renameSync(tmp, join(this.dir, key));
      this.evict();
    } catch {
      // The cache is an optimization: a read-only or full home must not fail the update.
    }
  }

  /** Keeps the most recently used entries. */
  private evict() {
    const names = readdirSync(this.dir).filter((n) => !n.startsWith('.'));
    if (names.length <= MAX_ENTRIES) return;
    const byUse = names.map((n) => ({ n, t: statSync(join(this.dir, n)).mtimeMs })).sort((a, b) => b.t - a.t);
    for (const { n } of byUse.slice(MAX_ENTRIES)) this.forget(n);
  }
}

class Reader {
  constructor(
    private readonly b: Buffer,
    public at: number,
  ) {}
  floats(n: number): Float64Array {
    if (this.at + 8 * n > this.b.length) throw new RangeError('short entry');
    const out = new Float64Array(n);
    Buffer.from(out.buffer).set(this.b.subarray(this.at, this.at + 8 * n));
    this.at += 8 * n;
    return out;
  }
  bytes(n: number): Uint8Array {
    if (this.at + n > this.b.length) throw new RangeError('short entry');
    const out = Uint8Array.from(this.b.subarray(this.at, this.at + n));
    this.at += n;
    return out;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
}

const bytesOf = (a: Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function blobFingerprint(st: BigIntStats, size: number): string {
  // A device node's times do not change when its contents do: the spot check has to tell.
  if (st.isBlockDevice()) return `blk:${st.rdev}:${size}`;
  return `file:${st.dev}:${st.ino}:${size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** A digest of every entry's lstat below `dir` (names in byte order, symlinks not followed). */
export function treeFingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (path: Buffer) => {
    const st = lstatSync(path, { bigint: true });
    h.update(path).update(`\0${st.dev}:${st.ino}:${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.mtimeNs}:${st.ctimeNs}\n`);
    if (!st.isDirectory()) return;
    const names = readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const n of names) walk(Buffer.concat([path, Buffer.from('/'), n]));
  };
  walk(Buffer.from(dir));
  return h.digest('hex');
}

/** Re-hashes a few chunks spread over the seed. */
function spotCheck(fd: number, list: ChunkList, digest: DigestName): boolean {
  const n = list.ends.length;
  const picks = new Set<number>();
  for (let k = 0; k < Math.min(SPOT_CHECKS, n); k++) picks.add(Math.floor((k * (n - 1)) / Math.max(1, SPOT_CHECKS - 1)));
  for (const i of picks) {
    const start = i ? list.ends[i - 1] : 0;
    const buf = Buffer.allocUnsafe(list.ends[i] - start);
    for (let done = 0; done < buf.length; ) {
      const got = readSync(fd, buf, done, buf.length - done, start + done);
      if (got === 0) return false;
      done += got;
    }
    const id = createHash(digest).update(buf).digest();
    if (!id.equals(list.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE))) return false;
  }
  return true;
}

