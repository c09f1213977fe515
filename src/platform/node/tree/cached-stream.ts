// The archive stream of a make with an encoder cache (cached-make.ts), as it is
// laid out before any byte of a file is read: a list of segments, each either
// record bytes (kept in an arena; FILENAME, ENTRY, …, PAYLOAD headers, GOODBYE
// tables, and the content of tiny files) or the content of one larger file
// (known by path, identity and size).  The candidate scan and the chunk
// recipes (cached-chunks.ts) both walk these segments.

import type { CachedFile } from './encoder-cache-file.ts';

/** A larger file whose content is a segment of the stream. */
export interface StreamFile {
  path: Buffer;
  /** its identity bytes (encoder-cache-file.ts): part of the recipe keys */
  identity: Uint8Array;
  size: number;
  /** not too recent to remember: recipe keys naming it may be looked up and kept */
  keep: boolean;
  /** its first and last 47 bytes and inside candidates: from the cache, or once its scan is back */
  head: Uint8Array | null;
  tail: Uint8Array | null;
  candidates: Float64Array | null;
  /** its bytes, when read this time and small (cached-scans.ts) */
  content?: Uint8Array;
  /** the scan batch that reads it, while pending (cached-scans.ts) */
  batch: unknown;
  /** read this time and to be remembered: its new cache entry, completed by the scan */
  entry?: CachedFile | null;
  /**
   * Not a file: an unchanged directory's node, the last make's stream from
   * this offset on (stream-layout.ts), its head, tail and inside candidates
   * taken from there.
   */
  run?: number;
}

/** What stands for a file no segment still to be read is of (release()). */
const RELEASED: StreamFile = Object.freeze({
  path: Buffer.alloc(0), identity: new Uint8Array(0), size: 0, keep: false, head: null, tail: null, candidates: null, batch: null,
});

/** Record bytes beyond this start a segment of their own. */
const SEGMENT_BYTES = 64 << 10;

export class CachedStream {
  readonly files: StreamFile[] = [];
  // The segments, as three parallel arrays.
  readonly segStart: number[] = [];
  readonly segLen: number[] = [];
  /** ≥ 0: arena offset of record bytes; < 0: -(file number + 1) */
  readonly segSrc: number[] = [];
  arena = Buffer.allocUnsafe(1 << 20);
  private arenaUsed = 0;
  /** segments before this one were looked at by release() */
  private released = 0;
  /** stream bytes laid out so far */
  offset = 0;

  /** `liveFrom`: the first segment still to be read (by the chunks); the record bytes before it may go. */
  constructor(private readonly liveFrom: () => number) {}

  /** Record bytes (or a tiny file's content) next in the stream. */
  literal(b: Uint8Array): void {
    if (!b.length) return;
    if (this.arenaUsed + b.length > this.arena.length) this.makeRoom(b.length);
    this.arena.set(b, this.arenaUsed);
    const last = this.segSrc.length - 1;
    // Adjacent record bytes are one segment up to SEGMENT_BYTES (the keys of cached-chunks.ts
    // join adjacent ones, so how they were written does not matter), so that the arena can drop
    // the records of a tree of small files as its chunks are written.
    if (last >= 0 && this.segSrc[last] >= 0 && this.segSrc[last] + this.segLen[last] === this.arenaUsed && this.segLen[last] < SEGMENT_BYTES) {
      this.segLen[last] += b.length;
      this.offset += b.length;
    } else this.segment(this.arenaUsed, b.length);
    this.arenaUsed += b.length;
  }

  /** A larger file's content next in the stream; returns its number. */
  file(f: StreamFile): number {
    this.release();
    const n = this.files.length;
    this.files.push(f);
    this.segment(-(n + 1), f.size);
    return n;
  }

  /**
   * Room for `n` more bytes in the arena: the record bytes of the live
   * segments move to its front, into a new arena of twice the size where they
   * and `n` would fill more than half of it.  So it holds the records of the
   * chunks in flight, not those of the whole tree, and each byte is moved a
   * bounded number of times.
   */
  private makeRoom(n: number) {
    const { segSrc } = this;
    const from = this.liveFrom();
    let base = this.arenaUsed;
    for (let i = from; i < segSrc.length; i++) {
      if (segSrc[i] >= 0) {
        base = segSrc[i];
        break;
      }
    }
    const keep = this.arenaUsed - base;
    const to = 2 * (keep + n) <= this.arena.length ? this.arena : Buffer.allocUnsafe(Math.max(2 * this.arena.length, 2 * (keep + n)));
    this.arena.copy(to, 0, base, this.arenaUsed);
    this.arena = to;
    for (let i = from; i < segSrc.length; i++) if (segSrc[i] >= 0) segSrc[i] -= base;
    this.arenaUsed = keep;
  }

  /**
   * Lets go of the files whose segments the chunks have all read: a make
   * holds the files in flight, not some five objects for each file of the tree.
   */
  private release() {
    const to = this.liveFrom();
    const { segSrc, files } = this;
    for (; this.released < to; this.released++) if (segSrc[this.released] < 0) files[-segSrc[this.released] - 1] = RELEASED;
  }

  private segment(src: number, len: number) {
    this.segStart.push(this.offset);
    this.segLen.push(len);
    this.segSrc.push(src);
    this.offset += len;
  }
}
