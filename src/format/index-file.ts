// casync index files, .caibx (blob) and .caidx (archive) (casync-format.md §2).
//
// Layout, all integers LE64:
//   0   header:  size = 48, type = CA_FORMAT_INDEX, feature_flags,
//                chunk_size_min, chunk_size_avg, chunk_size_max
//   48  table:   size = UINT64_MAX (unknown while streaming), type = CA_FORMAT_TABLE
//   64  items:   n × { end offset of the chunk (cumulative), 32-byte chunk id }
//   …   tail:    0, 0, index_offset = 48, table size = 16 + 40n + 40,
//                CA_FORMAT_TABLE_TAIL_MARKER; nothing may follow.
// An item's end offset is never 0 (chunks are not empty) while the tail starts
// with 0, so a stream reader can tell the tail from an item without look-ahead.

import { formatError } from '../errors.ts';
import {
  CA_CHUNK_SIZE_LIMIT_MAX,
  CA_CHUNK_SIZE_LIMIT_MIN,
  CA_FORMAT_INDEX,
  CA_FORMAT_TABLE,
  CA_FORMAT_TABLE_TAIL_MARKER,
  CHUNK_ID_SIZE,
} from './constants.ts';
import { featureFlagsProblem } from './feature-flags.ts';

export const INDEX_HEADER_SIZE = 48;
export const INDEX_PREAMBLE_SIZE = 64; // header plus table header
export const INDEX_ITEM_SIZE = 40;
export const INDEX_TAIL_SIZE = 40;

const UINT64_MAX = 0xffffffffffffffffn;

export interface IndexHeader {
  flags: bigint;
  min: number;
  avg: number;
  max: number;
}

export interface IndexEntry {
  /** Offset of the chunk in the blob or archive stream. */
  offset: number;
  size: number;
  id: Uint8Array;
}

export const indexFileSize = (chunks: number) =>
  INDEX_PREAMBLE_SIZE + INDEX_ITEM_SIZE * chunks + INDEX_TAIL_SIZE;

export function encodeIndexPreamble(h: IndexHeader): Uint8Array {
  const b = new Uint8Array(INDEX_PREAMBLE_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(INDEX_HEADER_SIZE), true);
  v.setBigUint64(8, CA_FORMAT_INDEX, true);
  v.setBigUint64(16, h.flags, true);
  v.setBigUint64(24, BigInt(h.min), true);
  v.setBigUint64(32, BigInt(h.avg), true);
  v.setBigUint64(40, BigInt(h.max), true);
  v.setBigUint64(48, UINT64_MAX, true);
  v.setBigUint64(56, CA_FORMAT_TABLE, true);
  return b;
}

/** Items for chunks given as (end offset, id) pairs; ids are 32 bytes each, packed. */
export function encodeIndexItems(ends: ArrayLike<number>, ids: Uint8Array): Uint8Array {
  const b = new Uint8Array(ends.length * INDEX_ITEM_SIZE);
  const v = new DataView(b.buffer);
  for (let i = 0; i < ends.length; i++) {
    v.setBigUint64(i * INDEX_ITEM_SIZE, BigInt(ends[i]), true);
    b.set(ids.subarray(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE), i * INDEX_ITEM_SIZE + 8);
  }
  return b;
}

export function encodeIndexTail(chunks: number): Uint8Array {
  const b = new Uint8Array(INDEX_TAIL_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(16, BigInt(INDEX_HEADER_SIZE), true);
  v.setBigUint64(24, BigInt(16 + INDEX_ITEM_SIZE * chunks + INDEX_TAIL_SIZE), true);
  v.setBigUint64(32, CA_FORMAT_TABLE_TAIL_MARKER, true);
  return b;
}

/** A whole index in memory (tests, small tools); streaming code uses IndexParser. */
export function encodeIndex(h: IndexHeader, ends: ArrayLike<number>, ids: Uint8Array): Uint8Array {
  const parts = [encodeIndexPreamble(h), encodeIndexItems(ends, ids), encodeIndexTail(ends.length)];
  const out = new Uint8Array(indexFileSize(ends.length));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Incremental, validating reader.  push() bytes as they arrive and collect the
 * entries it returns; end() checks that the tail was seen and nothing followed.
 * Every violation is a WasyncError naming the file and the byte offset.
 */
export class IndexParser {
  header: IndexHeader | null = null;
  private pending = new Uint8Array(0);
  private consumed = 0; // file offset of pending[0]
  private lastEnd = 0;
  private count = 0;
  private done = false;

  constructor(readonly file: string) {}

  push(data: Uint8Array): IndexEntry[] {
    if (this.done) {
      if (data.length) throw formatError(this.file, this.consumed, 'data after the index tail');
      return [];
    }
    const buf = this.pending.length ? concat(this.pending, data) : data;
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let o = 0;
    if (!this.header) {
      if (buf.length < INDEX_PREAMBLE_SIZE) return this.keep(buf, 0);
      this.header = this.parsePreamble(v);
      o = INDEX_PREAMBLE_SIZE;
    }
    const out: IndexEntry[] = [];
    while (!this.done && buf.length - o >= INDEX_ITEM_SIZE) {
      const at = this.consumed + o;
      const end = this.u64(v, o, at);
      if (end === 0) {
        this.parseTail(v, o, at);
        o += INDEX_TAIL_SIZE;
        break;
      }
      const size = end - this.lastEnd;
      if (size <= 0) {
        throw formatError(this.file, at, `chunk end offset ${end} does not increase (previous ${this.lastEnd})`);
      }
      if (size > this.header.max) {
        throw formatError(this.file, at, `chunk of ${size} bytes exceeds the maximum chunk size ${this.header.max}`);
      }
      out.push({ offset: this.lastEnd, size, id: buf.slice(o + 8, o + INDEX_ITEM_SIZE) });
      this.lastEnd = end;
      this.count++;
      o += INDEX_ITEM_SIZE;
    }
    if (this.done && o < buf.length) {
      throw formatError(this.file, this.consumed + o, 'data after the index tail');
    }
    this.keep(buf, o);
    return out;
  }

  /** Call at end of input; returns the total number of chunks and the blob size. */
  end(): { chunks: number; size: number } {
    if (!this.done) {
      const at = this.consumed + this.pending.length;
      throw formatError(this.file, at, this.header ? 'index is truncated (no tail)' : 'index is truncated (no header)');
    }
    return { chunks: this.count, size: this.lastEnd };
  }

  private keep(buf: Uint8Array, from: number): IndexEntry[] {
    this.pending = buf.slice(from);
    this.consumed += from;
    return [];
  }

  private u64(v: DataView, o: number, at: number): number {
    const x = v.getBigUint64(o, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw formatError(this.file, at, `value ${x} is too large`);
    }
    return Number(x);
  }

  private parsePreamble(v: DataView): IndexHeader {
    const f = this.file;
    if (v.getBigUint64(0, true) !== BigInt(INDEX_HEADER_SIZE) || v.getBigUint64(8, true) !== CA_FORMAT_INDEX) {
      throw formatError(f, 0, 'not a casync index (bad header size or type)');
    }
    const flags = v.getBigUint64(16, true);
    const problem = featureFlagsProblem(flags);
    if (problem) throw formatError(f, 16, problem);
    const names = ['minimum', 'average', 'maximum'];
    const sizes = [24, 32, 40].map((o, i) => {
      const s = v.getBigUint64(o, true);
      if (s < BigInt(CA_CHUNK_SIZE_LIMIT_MIN) || s > BigInt(CA_CHUNK_SIZE_LIMIT_MAX)) {
        throw formatError(f, o, `${names[i]} chunk size ${s} is outside [${CA_CHUNK_SIZE_LIMIT_MIN}, ${CA_CHUNK_SIZE_LIMIT_MAX}]`);
      }
      return Number(s);
    });
    const [min, avg, max] = sizes;
    if (min > avg || avg > max) {
      throw formatError(f, 24, `chunk sizes ${min}:${avg}:${max} are not ordered min <= avg <= max`);
    }
    if (v.getBigUint64(48, true) !== UINT64_MAX || v.getBigUint64(56, true) !== CA_FORMAT_TABLE) {
      throw formatError(f, 48, 'bad table header');
    }
    return { flags, min, avg, max };
  }

  private parseTail(v: DataView, o: number, at: number) {
    const f = this.file;
    if (v.getBigUint64(o + 8, true) !== 0n) throw formatError(f, at + 8, 'bad index tail (non-zero padding)');
    if (v.getBigUint64(o + 16, true) !== BigInt(INDEX_HEADER_SIZE)) {
      throw formatError(f, at + 16, 'bad index tail (index offset is not 48)');
    }
    const want = BigInt(16 + INDEX_ITEM_SIZE * this.count + INDEX_TAIL_SIZE);
    const got = v.getBigUint64(o + 24, true);
    if (got !== want) throw formatError(f, at + 24, `bad index tail (table size ${got}, expected ${want})`);
    if (v.getBigUint64(o + 32, true) !== CA_FORMAT_TABLE_TAIL_MARKER) {
      throw formatError(f, at + 32, 'bad index tail (wrong marker)');
    }
    this.done = true;
  }
}

/** Parses a complete index held in memory. */
export function parseIndex(bytes: Uint8Array, file: string) {
  const p = new IndexParser(file);
  const entries = p.push(bytes);
  const { size } = p.end();
  return { header: p.header as IndexHeader, entries, size };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
