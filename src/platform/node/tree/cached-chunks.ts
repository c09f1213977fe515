// The chunks of a make with an encoder cache (cached-make.ts): each cut found
// becomes a recipe (the record bytes it covers, verbatim, and for each file
// range the file's identity and the offsets), whose SHA-256 is its key.  A key
// the last make knew gives the chunk's id, if the target store has that chunk;
// every other chunk is assembled from its recipe by a job (recipe-chunks),
// digested and stored.  Batches of ids go to the index in stream order.
//
// Equal keys mean equal bytes: equal record bytes, and ranges of files that are
// the same by cached-make.ts's identity rule.  Keys naming a file too recent
// to remember are neither looked up nor kept.

import * as crypto from 'node:crypto';
import { toHex } from '../../../chunk/chunk-id.ts';
import type { Compression } from '../../../chunk/compression.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { encodeIndexItems } from '../../../format/index-file.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import { handled } from '../pool/chunk-pipeline.ts';
import type { ChunkResult, Job } from '../pool/jobs.ts';
import { IDENTITY_SIZE } from './encoder-cache-file.ts';
import type { CachedStream } from './cached-stream.ts';
import type { CacheReader } from './encoder-cache-reader.ts';

/** crypto.hash (one call, no Hash object: several times cheaper for small inputs) where Node has it */
const sha256: (b: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (b) => crypto.hash('sha256', b, 'binary')
    : (b) => crypto.createHash('sha256').update(b).digest('binary');

const CHUNK_BATCH_BYTES = 4 << 20;
const CHUNK_BATCH_CHUNKS = 1024;

interface Recipe {
  start: number;
  end: number;
  /** a segment at or before the one holding its first byte */
  seg: number;
  /** latin1 string of the SHA-256, or null: names a file not to remember */
  key: string | null;
}

interface ChunkBatch {
  ends: number[];
  ids: Promise<Uint8Array>;
}

export interface ChunkCounts {
  chunks: number;
  stored: number;
  storedBytes: number;
  hits: number;
  misses: number;
  added: number;
  /** bytes of the chunks written to the index so far */
  done: number;
}

export interface ChunkMakerOptions {
  stream: CachedStream;
  /** the last make's recipe keys → ids */
  old: Map<string, Uint8Array> | null;
  /** the last make's cache, for the unchanged directories' pieces */
  oldCache: CacheReader | null;
  /** the top directory and '/' */
  rootPrefix: Buffer;
  store: ChunkStore;
  graph: StoreGraph;
  digest: DigestName;
  compression: Compression;
  progress?: SharedArrayBuffer;
  runJob<R>(job: Job, bytes: number): Promise<R>;
  writeIndex(bytes: Uint8Array): Promise<void>;
  counts: ChunkCounts;
}

export class ChunkMaker {
  /** this make's recipe keys → ids, for the next */
  readonly known = new Map<string, Uint8Array>();
  private readonly batches: ChunkBatch[] = [];
  private pending: Recipe[] = [];
  /** the first recipe of each batch that may still read the stream's segments */
  private readonly reading = new Set<Recipe>();
  private pendingBytes = 0;
  private lastCut = 0;
  /** the segment the last cut lies in */
  private seg = 0;
  /** what a key is the hash of (see key()), and a view for its numbers (Buffer's write methods cost an inline-cache call each) */
  private material = new Uint8Array(64 << 10);
  private materialView = new DataView(this.material.buffer);
  /** bytes of material so far, and where the length of the record piece being gathered is (-1: none) */
  private n = 0;
  private records = -1;

  constructor(private readonly o: ChunkMakerOptions) {}

  /** batches handed out and not yet written */
  get waiting(): number {
    return this.batches.length;
  }

  /** The first segment still to be read: by a batch whose recipe job is not made yet, a pending chunk or the next key. */
  get liveFrom(): number {
    for (const first of this.reading) return first.seg; // (in dispatch order: the first is the earliest)
    return this.pending.length ? this.pending[0].seg : this.seg;
  }

  cuts(ends: number[]): void {
    for (const end of ends) {
      const seg = this.seg;
      const key = this.key(this.lastCut, end);
      this.pending.push({ start: this.lastCut, end, seg, key });
      this.pendingBytes += end - this.lastCut;
      this.lastCut = end;
      if (this.pendingBytes >= CHUNK_BATCH_BYTES || this.pending.length >= CHUNK_BATCH_CHUNKS) this.dispatch();
    }
  }

  /**
   * The recipe key of the stream bytes start..end (null: they include a file
   * not to remember): the SHA-256 of, per piece, 0, f64 length, the record
   * bytes (of adjacent record segments, as one piece); or 1, f64 file offset,
   * f64 length, the file's identity.  Gathered in one buffer and hashed at
   * once (a chunk spans a few files).
   */
  private key(start: number, end: number): string | null {
    const { segStart, segLen, segSrc, arena, files } = this.o.stream;
    this.n = 0;
    this.records = -1;
    let at = start;
    while (at < end) {
      while (segStart[this.seg] + segLen[this.seg] <= at) this.seg++;
      const i = this.seg;
      const from = at - segStart[i];
      const len = Math.min(end, segStart[i] + segLen[i]) - at;
      const src = segSrc[i];
      if (src >= 0) this.addRecords(arena, src + from, len);
      else {
        const f = files[-src - 1];
        if (!f.keep) return this.skipTo(end);
        if (f.run !== undefined) {
          // an unchanged directory: the pieces it had in the last make, which gave them their keys
          const old = this.o.oldCache!;
          old.layout.expand(f.run + from, f.run + from + len, (b) => this.addRecords(b, 0, b.length), (ord, o, l) => this.addFile(o, l, old.identityOf(ord)));
        } else this.addFile(from, len, f.identity);
      }
      at += len;
    }
    return sha256(this.material.subarray(0, this.n));
  }

  /** Key material: record bytes b[from, from+len), joined to the record piece before them. */
  private addRecords(b: Uint8Array, from: number, len: number) {
    const m = this.room(9 + len);
    const v = this.materialView;
    if (this.records >= 0) v.setFloat64(this.records, v.getFloat64(this.records, true) + len, true);
    else {
      m[this.n] = 0;
      v.setFloat64((this.records = this.n + 1), len, true);
      this.n += 9;
    }
    m.set(b.subarray(from, from + len), this.n);
    this.n += len;
  }

  /** Key material: `len` bytes at `from` of the file `identity`. */
  private addFile(from: number, len: number, identity: Uint8Array) {
    const m = this.room(17 + IDENTITY_SIZE);
    const v = this.materialView;
    const n = this.n;
    this.records = -1;
    m[n] = 1;
    v.setFloat64(n + 1, from, true);
    v.setFloat64(n + 9, len, true);
    m.set(identity, n + 17);
    this.n += 17 + IDENTITY_SIZE;
  }

  /** The material buffer, with room for `more` bytes after the first n. */
  private room(more: number): Uint8Array {
    const need = this.n + more;
    if (need > this.material.length) {
      const bigger = new Uint8Array(Math.max(2 * this.material.length, need));
      bigger.set(this.material.subarray(0, this.n));
      this.material = bigger;
      this.materialView = new DataView(bigger.buffer);
    }
    return this.material;
  }

  /** Moves the segment cursor to the one holding the byte before `end`; no key. */
  private skipTo(end: number): null {
    const { segStart, segLen } = this.o.stream;
    while (segStart[this.seg] + segLen[this.seg] < end) this.seg++;
    return null;
  }

  /** Hands out the recipes gathered so far as one batch. */
  dispatch(): void {
    if (!this.pending.length) return;
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.reading.add(chunks[0]);
    const ids = this.resolve(chunks).finally(() => this.reading.delete(chunks[0]));
    this.batches.push({ ends: chunks.map((c) => c.end), ids: handled(ids) });
  }

  /** Writes the first batch's entries to the index once its ids are known. */
  async completeFirst(): Promise<void> {
    const b = this.batches.shift()!;
    const ids = await b.ids;
    const c = this.o.counts;
    c.chunks += b.ends.length;
    c.done = b.ends[b.ends.length - 1];
    await this.o.writeIndex(encodeIndexItems(b.ends, ids));
  }

  /** The ids of a batch: known keys whose chunk the store has, the rest assembled by a job. */
  private async resolve(chunks: Recipe[]): Promise<Uint8Array> {
    const ids = new Uint8Array(chunks.length * CHUNK_ID_SIZE);
    const { old, store, counts } = this.o;
    const known = chunks.map((c) => (c.key !== null ? old?.get(c.key) : undefined));
    const present = await Promise.all(known.map((id) => (id ? store.has(toHex(id)) : false)));
    const missing: Recipe[] = [];
    const at: number[] = [];
    known.forEach((id, i) => {
      if (id && present[i]) {
        ids.set(id, i * CHUNK_ID_SIZE);
        counts.hits++;
      } else {
        missing.push(chunks[i]);
        at.push(i);
      }
    });
    if (missing.length) {
      const bytes = missing.reduce((a, c) => a + c.end - c.start, 0);
      const job = this.recipeJob(missing);
      this.reading.delete(chunks[0]);
      const r = await this.o.runJob<ChunkResult>(job, bytes);
      at.forEach((i, k) => ids.set(r.ids.subarray(k * CHUNK_ID_SIZE, (k + 1) * CHUNK_ID_SIZE), i * CHUNK_ID_SIZE));
      counts.misses += missing.length;
      counts.stored += r.stored;
      counts.storedBytes += r.storedBytes;
    }
    chunks.forEach((c, i) => {
      if (c.key === null) return;
      if (!old?.has(c.key)) counts.added++;
      this.known.set(c.key, ids.slice(i * CHUNK_ID_SIZE, (i + 1) * CHUNK_ID_SIZE));
    });
    return ids;
  }

  /** The job that assembles `chunks` from their pieces: record bytes and small files read this time copied in, other file ranges by path. */
  private recipeJob(chunks: Recipe[]) {
    const { segStart, segLen, segSrc, arena, files } = this.o.stream;
    const paths: string[] = [];
    const numbers = new Map<number, number>();
    /** the number of file `k` (≥ 0: of the stream's, < 0: -(ordinal + 1) in the last cache) in `paths` */
    const pathNo = (k: number, path: () => Buffer) => {
      let no = numbers.get(k);
      if (no === undefined) {
        numbers.set(k, (no = paths.length));
        paths.push(path().toString('latin1'));
      }
      return no;
    };
    const data: Uint8Array[] = [];
    const pieces: number[] = [];
    let bytes = 0;
    const copy = (b: Uint8Array) => {
      data.push(b);
      pieces.push(0, bytes, 0, b.length);
      bytes += b.length;
    };
    for (const c of chunks) {
      for (let at = c.start, i = c.seg; at < c.end; i++) {
        const from = at - segStart[i];
        const len = Math.min(c.end, segStart[i] + segLen[i]) - at;
        const src = segSrc[i];
        if (len <= 0) continue;
        const f = src < 0 ? files[-src - 1] : null;
        if (!f) copy(arena.subarray(src + from, src + from + len));
        else if (f.run !== undefined) {
          const old = this.o.oldCache!;
          const ordPath = (ord: number) => () => Buffer.concat([this.o.rootPrefix, old.pathOf(ord)]);
          old.layout.expand(f.run + from, f.run + from + len, copy, (ord, o, l) => pieces.push(1, pathNo(-ord - 1, ordPath(ord)), o, l));
        } else if (f.content) copy(f.content.subarray(from, from + len));
        else pieces.push(1, pathNo(-src - 1, () => f.path), from, len);
        at += len;
      }
    }
    const { digest, graph: store, compression, progress } = this.o;
    const sizes = Float64Array.from(chunks, (c) => c.end - c.start);
    const records = new Uint8Array(bytes);
    let o = 0;
    for (const d of data) {
      records.set(d, o);
      o += d.length;
    }
    return {
      kind: 'recipe-chunks', sizes, pieces: Float64Array.from(pieces), bytes: records, paths, digest, store, compression, progress,
    } as const;
  }
}
