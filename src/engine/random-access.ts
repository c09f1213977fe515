// Random access to the bytes of an archive or blob: the seed of the BlobReader that
// FUSE mount, NBD mkdev and the browser share.  Runtime-neutral: whoever builds a
// reader gives it the chunks, from a ChunkSource (stores that check every copy)
// or a loader of its own (worker threads).
//
// Layout of an index-backed reader:
//   * ChunkTable: the index's items kept compactly, the cumulative end offsets in a
//     Float64Array (exact up to 2^53) and the 32-byte ids packed in one Uint8Array;
//     the chunk holding an offset is found by binary search over the ends.
//   * a bounded LRU of decoded chunks, keyed by chunk number and holding promises,
//     so concurrent reads of one chunk share a single fetch;
//   * read-ahead: a read that starts where the previous one ended is taken as
//     sequential, and the chunks after the last one it touched are fetched early.
// A chunk is taken from the first store that has a copy which decompresses to the
// size the index states and whose digest equals its id; a corrupt copy makes the
// source try the next store, and only if none serves does the read fail, naming
// the chunk id and every store (chunkMissing / chunkCorrupt).

import { chunkMissing } from '../errors.ts';
import { toHex } from '../chunk/chunk-id.ts';
import { CHUNK_ID_SIZE } from '../format/constants.ts';
import type { IndexEntry } from '../format/index-file.ts';
import { absentOf, type ChunkSource } from '../stores/store.ts';

/** Positional reads of a byte sequence of known size. */
export interface ReadAt {
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset`; offset + length must not exceed size.  The
   * result may be a view of a cached buffer: do not modify it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Chunk `id` of `size` bytes, checked against its id; `i` is its number in the index. */
export type ChunkLoader = (i: number, id: Uint8Array, size: number) => Promise<Uint8Array>;

/** A loader reading from `source`; a chunk no store has fails naming them. */
export const loadFrom =
  (source: ChunkSource): ChunkLoader =>
  async (_i, id, size) => {
    const hex = toHex(id);
    const r = await source.read(hex, size);
    if (!r) throw chunkMissing(hex, [source.name], absentOf(source));
    return r.data;
  };

/** Refuses a read outside [0, size): callers validate offsets before reading. */
export function checkRange(r: { size: number }, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > r.size) {
    throw new RangeError(`${what}: read of ${length} bytes at ${offset} is outside [0, ${r.size})`);
  }
}

/** A ReadAt over bytes in memory (tests, small archives, the browser's File contents). */
export class BytesReadAt implements ReadAt {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array, private readonly name = 'memory') {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, this.name);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** An index's chunks: end offsets and ids in typed arrays. */
export class ChunkTable {
  private constructor(
    private readonly ends: Float64Array,
    private readonly ids: Uint8Array,
    readonly count: number,
  ) {}

  /** From batches of index entries (IndexParser output), in order. */
  static fromBatches(batches: Iterable<readonly IndexEntry[]>): ChunkTable {
    const b = new ChunkTableBuilder();
    for (const batch of batches) b.add(batch);
    return b.finish();
  }

  /** @internal (ChunkTableBuilder) */
  static of(ends: Float64Array, ids: Uint8Array): ChunkTable {
    return new ChunkTable(ends, ids, ends.length);
  }

  /** Total bytes: the end of the last chunk. */
  get size(): number {
    return this.count ? this.ends[this.count - 1] : 0;
  }

  start(i: number): number {
    return i ? this.ends[i - 1] : 0;
  }

  end(i: number): number {
    return this.ends[i];
  }

  id(i: number): Uint8Array {
    return this.ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE);
  }

  /** The chunk holding byte `offset` (0 <= offset < size). */
  find(offset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid] <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Collects index entries as they are parsed, without keeping an object per chunk. */
export class ChunkTableBuilder {
  private ends = new Float64Array(1024);
  private ids = new Uint8Array(1024 * CHUNK_ID_SIZE);
  private n = 0;

  add(batch: readonly IndexEntry[]): void {
    for (const e of batch) {
      const n = this.n;
      if (n === this.ends.length) {
        const ends = new Float64Array(2 * n);
        ends.set(this.ends);
        this.ends = ends;
        const ids = new Uint8Array(2 * n * CHUNK_ID_SIZE);
        ids.set(this.ids);
        this.ids = ids;
      }
      if (e.offset !== (n ? this.ends[n - 1] : 0)) {
        throw new Error(`chunk table: entry ${n} starts at ${e.offset}, not where the previous one ended`);
      }
      this.ends[n] = e.offset + e.size;
      this.ids.set(e.id, n * CHUNK_ID_SIZE);
      this.n++;
    }
  }

  finish(): ChunkTable {
    return ChunkTable.of(this.ends.slice(0, this.n), this.ids.slice(0, this.n * CHUNK_ID_SIZE));
  }
}

export interface IndexReadAtOptions {
  table: ChunkTable;
  /** where the chunks come from (loadFrom(a ChunkSource), or worker threads) */
  load: ChunkLoader;
  /** decoded chunks kept (default 32) */
  cacheChunks?: number;
  /** chunks fetched ahead of sequential reads (default 2) */
  readAhead?: number;
  /** the index, for messages */
  file?: string;
}

/** The stream an index describes, read at any offset. */
export class IndexReadAt implements ReadAt {
  readonly size: number;
  readonly table: ChunkTable;
  private readonly cache = new Map<number, Promise<Uint8Array>>();
  private readonly cap: number;
  private readonly ahead: number;
  private lastEnd = -1;
  /** chunks fetched from the stores so far (for tests and statistics) */
  fetched = 0;

  constructor(private readonly o: IndexReadAtOptions) {
    this.table = o.table;
    this.size = o.table.size;
    this.cap = Math.max(1, o.cacheChunks ?? 32);
    this.ahead = Math.max(0, Math.min(o.readAhead ?? 2, this.cap - 1));
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, this.o.file ?? 'index');
    if (length === 0) return new Uint8Array(0);
    const t = this.table;
    const first = t.find(offset);
    const last = t.find(offset + length - 1);
    const sequential = offset === this.lastEnd;
    this.lastEnd = offset + length;
    const wanted: Promise<Uint8Array>[] = [];
    for (let i = first; i <= last; i++) wanted.push(this.chunk(i));
    if (sequential) for (let i = last + 1; i <= last + this.ahead && i < t.count; i++) this.prefetch(i);
    if (first === last) {
      const c = await wanted[0];
      const at = offset - t.start(first);
      return c.subarray(at, at + length);
    }
    const out = new Uint8Array(length);
    let o = 0;
    for (let k = 0; k < wanted.length; k++) {
      const i = first + k;
      const c = await wanted[k];
      const from = k === 0 ? offset - t.start(i) : 0;
      const to = Math.min(c.length, offset + length - t.start(i));
      out.set(c.subarray(from, to), o);
      o += to - from;
    }
    return out;
  }

  /** The verified bytes of chunk i (through the cache). */
  chunk(i: number): Promise<Uint8Array> {
    let p = this.cache.get(i);
    if (p) {
      this.cache.delete(i); // most recently used goes last
      this.cache.set(i, p);
      return p;
    }
    p = this.load(i);
    this.cache.set(i, p);
    // A failed fetch is not remembered: the next read tries the stores again.
    p.catch(() => {
      if (this.cache.get(i) === p) this.cache.delete(i);
    });
    while (this.cache.size > this.cap) this.cache.delete(this.cache.keys().next().value as number);
    return p;
  }

  private prefetch(i: number): void {
    if (this.cache.has(i)) return;
    // Errors surface when (if) the chunk is actually read.
    this.chunk(i).catch(() => {});
  }

  private load(i: number): Promise<Uint8Array> {
    const t = this.table;
    this.fetched++;
    return this.o.load(i, t.id(i), t.end(i) - t.start(i));
  }
}

/** Bytes [start, end) of r in pieces of at most `piece` bytes, in order. */
export async function* readRange(r: ReadAt, start: number, end: number, piece = 1 << 20): AsyncGenerator<Uint8Array> {
  for (let o = start; o < end; o += piece) yield await r.read(o, Math.min(piece, end - o));
}
