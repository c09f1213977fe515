// Reads an encoder cache file (layout: encoder-cache-file.ts) front to back
// beside the walk of the next make: the walk meets files in the order the
// cache lists them, so each lookup compares the file's path with the entry at
// the cursor, passing entries of files that are gone, and takes an entry apart
// only when it is used.  No map of the tree's files is built.
//
// Trust: the whole file is checked first (magic, version, checksum, settings,
// top directory); a file that fails is not used at all.  An entry that does
// not parse, met later, ends the use of the cache from there on (with a
// warning): the entries used before it were whole, and what follows is read
// from the files.

import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { createHash } from 'node:crypto';
import {
  CACHE_VERSION,
  EDGE,
  HEADER,
  IDENTITY_SIZE,
  KEY_SIZE,
  KIND_DIR,
  KIND_FILE,
  KIND_LEFT_OUT,
  MAGIC,
  SUM,
  TINY,
  digestCode,
  type CacheSettings,
} from './encoder-cache-file.ts';
import { OldLayout, layoutBytes, type LayoutCounts } from './stream-layout.ts';

/** Thrown (and caught by the loader, which warns) for a file that is not a usable cache. */
export class CacheProblem extends Error {}

/** Where the parts of the entry found last lie in the cache's bytes. */
export interface CacheEntry {
  kind: number;
  /** its number in walk order */
  ordinal: number;
  start: number;
  end: number;
  identityAt: number;
  size: number;
  flags: bigint;
  projid: number;
  xattrsAt: number;
  xattrCount: number;
  /** the content (size <= TINY), or the head, the tail and the candidates */
  dataAt: number;
  candidateCount: number;
}

const SLASH = 0x2f;
const NO_CANDIDATES = new Float64Array(0);
const NO_XATTRS: [Buffer, Buffer][] = [];

export class CacheReader {
  /** recipe key (latin1) → chunk id */
  readonly chunks = new Map<string, Uint8Array>();
  readonly entry: CacheEntry = {
    kind: 0, ordinal: 0, start: 0, end: 0, identityAt: 0, size: 0, flags: 0n, projid: 0, xattrsAt: 0, xattrCount: 0, dataAt: 0, candidateCount: 0,
  };
  private at = HEADER;
  private left: number;
  /** number of entries */
  readonly count: number;
  /** where the entries end (the layout starts) */
  private readonly filesEnd: number;
  readonly layout: OldLayout;
  /** where entry i starts (i = count: where they end) */
  private readonly offsets: Float64Array;
  /** the directory row of entry i, or -1 */
  private readonly rowOf: Int32Array;
  /** entries found the same this make (see unchanged()): ordinals checkedFrom..checkedTo-1 */
  private checkedFrom = 0;
  private checkedTo = 0;
  private loading = true;
  /**
   * The bytes again, for the lookups per entry: a DataView's reads are inlined
   * in optimized code, Buffer's read methods cost an inline-cache call each.
   */
  private readonly dv: DataView;

  constructor(
    readonly bytes: Buffer,
    s: CacheSettings,
    private readonly warn: (m: string) => void,
  ) {
    const b = bytes;
    this.dv = new DataView(b.buffer, b.byteOffset, b.length);
    if (b.length < HEADER + SUM || !b.subarray(0, 8).equals(MAGIC)) throw new CacheProblem('not a wasync encoder cache');
    const version = b.readUInt32LE(8);
    if (version !== CACHE_VERSION) throw new CacheProblem(`version ${version}, this wasync writes ${CACHE_VERSION}`);
    const bodyEnd = b.length - SUM;
    if (!createHash('sha256').update(b.subarray(0, bodyEnd)).digest().equals(b.subarray(bodyEnd))) {
      throw new CacheProblem('checksum mismatch (corrupt)');
    }
    if (b.readUInt32LE(12) !== TINY) throw new CacheProblem('another layout');
    if (
      b.readBigUInt64LE(16) !== s.flags ||
      Number(b.readBigUInt64LE(24)) !== s.sizes.min ||
      Number(b.readBigUInt64LE(32)) !== s.sizes.avg ||
      Number(b.readBigUInt64LE(40)) !== s.sizes.max ||
      b.readUInt32LE(48) !== digestCode(s.digest)
    ) {
      throw new CacheProblem('made with other feature flags, chunk sizes or digest');
    }
    if (b.readBigUInt64LE(56) !== BigInt.asUintN(64, s.rootDev) || b.readBigUInt64LE(64) !== BigInt.asUintN(64, s.rootIno)) {
      throw new CacheProblem('made for another directory');
    }
    this.left = this.count = Number(b.readBigUInt64LE(72));
    const nChunks = Number(b.readBigUInt64LE(80));
    const counts: LayoutCounts = {
      dirs: Number(b.readBigUInt64LE(88)),
      files: Number(b.readBigUInt64LE(96)),
      candidates: Number(b.readBigUInt64LE(104)),
      recordBytes: Number(b.readBigUInt64LE(112)),
    };
    const chunksAt = bodyEnd - nChunks * (KEY_SIZE + CHUNK_ID_SIZE);
    this.filesEnd = chunksAt - layoutBytes(counts);
    if (this.filesEnd < HEADER) throw new CacheProblem(`truncated: ${nChunks} chunks and the stream's layout do not fit`);
    this.layout = new OldLayout(b, this.filesEnd, counts, this.count);
    const view = (o: number, n: number) => new Uint8Array(b.buffer, b.byteOffset + o, n);
    for (let o = chunksAt; o < bodyEnd; o += KEY_SIZE + CHUNK_ID_SIZE) {
      this.chunks.set(b.toString('latin1', o, o + KEY_SIZE), view(o + KEY_SIZE, CHUNK_ID_SIZE));
    }
    // Every entry laid out once, here: the subtrees are reached by ordinal.
    this.offsets = new Float64Array(this.count + 1);
    this.rowOf = new Int32Array(this.count).fill(-1);
    let rows = 0;
    let o = HEADER;
    for (let i = 0; i < this.count; i++) {
      this.offsets[i] = o;
      if (o + 3 > this.filesEnd) throw new CacheProblem(`truncated at byte ${o}`);
      const p1 = o + 3 + this.dv.getUint16(o + 1, true);
      if (!this.measure(o, p1)) throw new CacheProblem(`entry ${i} does not parse`);
      if (this.entry.kind === KIND_DIR) {
        if (rows >= counts.dirs) throw new CacheProblem(`directory entry ${i} has no row`);
        const r = (this.rowOf[i] = rows++);
        if (i + this.layout.dirEntries[r] >= this.count) throw new CacheProblem(`directory entry ${i}: its subtree is beyond the entries`);
      }
      o = this.entry.end;
    }
    this.offsets[this.count] = o;
    this.loading = false;
    if (rows !== counts.dirs) throw new CacheProblem(`${counts.dirs} directory rows for ${rows} directories`);
  }

  /**
   * Whether the cache has an entry for the file at `path[from..]` (then in
   * `entry`; pass it with next()).  Entries of files before it in walk order
   * are passed: those files are gone.
   */
  find(path: Buffer, from: number): boolean {
    const b = this.bytes;
    const dv = this.dv;
    while (this.left > 0) {
      const o = this.at;
      if (o + 3 > this.filesEnd) return this.fail(`truncated at byte ${o}`);
      const p0 = o + 3;
      const p1 = p0 + dv.getUint16(o + 1, true);
      if (p1 > this.filesEnd) return this.fail(`truncated at byte ${o}`);
      const same = equalAt(b, p0, p1, path, from);
      if (!same && walkOrder(b, p0, p1, path, from) > 0) return false;
      if (!this.measure(o, p1)) return false;
      if (same) return true;
      this.next();
    }
    return false;
  }

  /** The directory row of the entry found last (a directory's), or -1. */
  row(): number {
    return this.rowOf[this.entry.ordinal];
  }

  /**
   * Whether every entry below the directory found last (row `r`) is of a node
   * that `same` finds unchanged (given its path's bytes and where its identity
   * is in bytes).  Entries found the same before, this make, are not looked at again:
   * the walk asks again for each directory on the way to a change.
   */
  unchanged(r: number, same: (path: Uint8Array, identityAt: number) => boolean): boolean {
    const first = this.entry.ordinal + 1;
    const end = first + this.layout.dirEntries[r];
    let i = first;
    if (first >= this.checkedFrom && first <= this.checkedTo) i = this.checkedTo;
    else this.checkedFrom = this.checkedTo = first;
    for (; i < end; i++) {
      const p1 = this.pathEnd(i);
      if (!same(this.view(this.offsets[i] + 3, p1 - this.offsets[i] - 3), p1)) {
        this.checkedTo = i;
        return false;
      }
    }
    this.checkedTo = Math.max(this.checkedTo, end);
    return true;
  }

  /** Passes the directory found last and everything below it (row `r`). */
  passSubtree(r: number): void {
    const next = this.entry.ordinal + 1 + this.layout.dirEntries[r];
    this.at = this.offsets[next];
    this.left = this.count - next;
  }

  /** Where entry `i` starts (i = count: where the entries end). */
  entryAt(i: number): number {
    return this.offsets[i];
  }

  /** Entry `i`'s path and identity. */
  pathOf(i: number): Uint8Array {
    const p0 = this.offsets[i] + 3;
    return this.view(p0, this.pathEnd(i) - p0);
  }

  identityOf(i: number): Uint8Array {
    return this.view(this.pathEnd(i), IDENTITY_SIZE);
  }

  /** Where entry `i`'s path ends (its identity starts). */
  private pathEnd(i: number): number {
    const o = this.offsets[i];
    return o + 3 + this.dv.getUint16(o + 1, true);
  }

  /** Passes the entry found last. */
  next(): void {
    this.at = this.entry.end;
    this.left--;
  }

  view(at: number, n: number): Uint8Array {
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + at, n);
  }

  /** The entry's candidates; null (and the cache no longer used) if they are not in order. */
  candidates(): Float64Array | null {
    const e = this.entry;
    if (!e.candidateCount) return NO_CANDIDATES;
    const dv = this.dv;
    const c = new Float64Array(e.candidateCount);
    let o = e.dataAt + 2 * EDGE + 4;
    let last = EDGE;
    for (let k = 0; k < c.length; k++, o += 8) {
      const v = dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 0x1_0000_0000;
      if (v <= last || v > e.size) {
        this.fail(`candidate ${v} out of order or range at byte ${o}`);
        return null;
      }
      c[k] = last = v;
    }
    return c;
  }

  xattrs(): [Buffer, Buffer][] {
    const e = this.entry;
    if (!e.xattrCount) return NO_XATTRS;
    const b = this.bytes;
    const dv = this.dv;
    const out: [Buffer, Buffer][] = [];
    let o = e.xattrsAt;
    for (let x = 0; x < e.xattrCount; x++) {
      const kl = dv.getUint16(o, true);
      const k = b.subarray(o + 2, o + 2 + kl);
      o += 2 + kl;
      const vl = dv.getUint32(o, true);
      out.push([k, b.subarray(o + 4, o + 4 + vl)]);
      o += 4 + vl;
    }
    return out;
  }

  /** Lays out the entry at `o` (path ending at `p1`) into `entry`; false (and no more use) if it does not fit. */
  private measure(o: number, p1: number): boolean {
    const dv = this.dv;
    const end = this.filesEnd;
    const e = this.entry;
    let at = p1 + IDENTITY_SIZE;
    if (at > end) return this.fail(`truncated at byte ${o}`);
    e.kind = dv.getUint8(o);
    e.ordinal = this.count - this.left;
    e.start = o;
    e.identityAt = p1;
    e.size = dv.getUint32(p1 + 16, true) + dv.getUint32(p1 + 20, true) * 0x1_0000_0000;
    if (e.kind !== KIND_FILE) {
      if (e.kind > KIND_LEFT_OUT) return this.fail(`of kind ${e.kind} at byte ${o}`);
      e.end = e.dataAt = at;
      e.xattrCount = e.candidateCount = 0;
      return true;
    }
    at += 14;
    if (at > end) return this.fail(`truncated at byte ${o}`);
    const fo = p1 + IDENTITY_SIZE;
    e.flags = dv.getUint32(fo, true) === 0 && dv.getUint32(fo + 4, true) === 0 ? 0n : dv.getBigUint64(fo, true);
    e.projid = dv.getUint32(fo + 8, true);
    e.xattrCount = dv.getUint16(fo + 12, true);
    e.xattrsAt = at;
    for (let x = 0; x < e.xattrCount; x++) {
      if (at + 2 > end) return this.fail(`truncated at byte ${at}`);
      at += 2 + dv.getUint16(at, true);
      if (at + 4 > end) return this.fail(`truncated at byte ${at}`);
      at += 4 + dv.getUint32(at, true);
    }
    e.dataAt = at;
    if (e.size <= TINY) {
      at += e.size;
      e.candidateCount = 0;
    } else {
      if (at + 2 * EDGE + 4 > end) return this.fail(`truncated at byte ${at}`);
      e.candidateCount = dv.getUint32(at + 2 * EDGE, true);
      at += 2 * EDGE + 4 + 8 * e.candidateCount;
    }
    if (at > end) return this.fail(`truncated at byte ${at}`);
    e.end = at;
    return true;
  }

  private fail(why: string): false {
    if (this.loading) throw new CacheProblem(`entry ${why}`);
    this.left = 0;
    this.warn(`encoder cache: entry ${why}; the rest of the cache is not used, those files are read`);
    return false;
  }
}

/** Whether a[a0..a1] holds the bytes of b[b0..] (a loop: paths are short, Buffer.compare's checks are not free). */
function equalAt(a: Buffer, a0: number, a1: number, b: Buffer, b0: number): boolean {
  const n = a1 - a0;
  if (n !== b.length - b0) return false;
  for (let i = n - 1; i >= 0; i--) if (a[a0 + i] !== b[b0 + i]) return false;
  return true;
}

/**
 * Compares paths in the order the walk meets them: name by name, each by its
 * bytes, so '/' sorts before every byte a name can hold.
 */
function walkOrder(a: Buffer, a0: number, a1: number, b: Buffer, b0: number): number {
  const n = Math.min(a1 - a0, b.length - b0);
  for (let i = 0; i < n; i++) {
    const x = a[a0 + i];
    const y = b[b0 + i];
    if (x !== y) return x === SLASH ? -1 : y === SLASH ? 1 : x - y;
  }
  return a1 - a0 - (b.length - b0);
}
