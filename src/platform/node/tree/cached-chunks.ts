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

import { createHash } from 'node:crypto';
import { toHex } from '../../../chunk/chunk-id.ts';
import type { Compression } from '../../../chunk/compression.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { encodeIndexItems } from '../../../format/index-file.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import { handled } from '../pool/chunk-pipeline.ts';
import { RECIPE_FIELDS, type ChunkResult, type Job } from '../pool/jobs.ts';
import type { CachedStream } from './cached-stream.ts';

const CHUNK_BATCH_BYTES = 4 << 20;
const CHUNK_BATCH_CHUNKS = 1024;

/** Part of a chunk: record bytes (arena range) or a file range. */
type Piece = { at: number; len: number; file: -1 } | { file: number; offset: number; len: number };

interface Recipe {
  start: number;
  end: number;
  pieces: Piece[];
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
  private pendingBytes = 0;
  private lastCut = 0;
  /** the segment the last cut lies in */
  private seg = 0;
  private readonly frame = Buffer.allocUnsafe(17);

  constructor(private readonly o: ChunkMakerOptions) {}

  /** batches handed out and not yet written */
  get waiting(): number {
    return this.batches.length;
  }

  cuts(ends: number[]): void {
    const { segStart, segLen, segSrc, arena, files } = this.o.stream;
    const frame = this.frame;
    for (const end of ends) {
      const pieces: Piece[] = [];
      const key = createHash('sha256');
      let keyed = true;
      let at = this.lastCut;
      while (at < end) {
        while (segStart[this.seg] + segLen[this.seg] <= at) this.seg++;
        const i = this.seg;
        const from = at - segStart[i];
        const len = Math.min(end, segStart[i] + segLen[i]) - at;
        const src = segSrc[i];
        if (src >= 0) {
          pieces.push({ at: src + from, len, file: -1 });
          frame.writeUInt8(0, 0);
          frame.writeDoubleLE(len, 1);
          key.update(frame.subarray(0, 9)).update(arena.subarray(src + from, src + from + len));
        } else {
          const f = files[-src - 1];
          pieces.push({ file: -src - 1, offset: from, len });
          keyed &&= f.keep;
          frame.writeUInt8(1, 0);
          frame.writeDoubleLE(from, 1);
          frame.writeDoubleLE(len, 9);
          key.update(frame).update(f.identity);
        }
        at += len;
      }
      this.pending.push({ start: this.lastCut, end, pieces, key: keyed ? key.digest('binary') : null });
      this.pendingBytes += end - this.lastCut;
      this.lastCut = end;
      if (this.pendingBytes >= CHUNK_BATCH_BYTES || this.pending.length >= CHUNK_BATCH_CHUNKS) this.dispatch();
    }
  }

  /** Hands out the recipes gathered so far as one batch. */
  dispatch(): void {
    if (!this.pending.length) return;
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.batches.push({ ends: chunks.map((c) => c.end), ids: handled(this.resolve(chunks)) });
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
      const r = await this.o.runJob<ChunkResult>(this.recipeJob(missing), bytes);
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

  private recipeJob(chunks: Recipe[]) {
    const { arena, files } = this.o.stream;
    const paths: string[] = [];
    const pathNo = new Map<number, number>();
    let bytes = 0;
    let n = 0;
    for (const c of chunks) {
      n += c.pieces.length;
      for (const p of c.pieces) if (p.file < 0) bytes += p.len;
    }
    const data = new Uint8Array(bytes);
    const pieces = new Float64Array(n * RECIPE_FIELDS);
    let at = 0;
    let k = 0;
    for (const c of chunks) {
      for (const p of c.pieces) {
        if (p.file < 0) {
          const q = p as { at: number; len: number };
          data.set(arena.subarray(q.at, q.at + q.len), at);
          pieces.set([0, at, 0, q.len], k);
          at += q.len;
        } else {
          const q = p as { file: number; offset: number; len: number };
          let no = pathNo.get(q.file);
          if (no === undefined) {
            pathNo.set(q.file, (no = paths.length));
            paths.push(files[q.file].path.toString('latin1'));
          }
          pieces.set([1, no, q.offset, q.len], k);
        }
        k += RECIPE_FIELDS;
      }
    }
    const { digest, graph: store, compression, progress } = this.o;
    const sizes = Float64Array.from(chunks, (c) => c.end - c.start);
    return { kind: 'recipe-chunks', sizes, pieces, bytes: data, paths, digest, store, compression, progress } as const;
  }
}
