// The producer side of a ring-buffer stream (see ChunkPipeline): a catar encoder
// writes records, and file payloads are read straight into the ring, so stream
// bytes are copied once; the jobs read them from the same shared memory.

import type { ChunkPipeline } from './chunk-pipeline.ts';
import { SCAN_SEGMENT } from './jobs.ts';

/**
 * A ring holds at least a maximum-size chunk, two scan segments and a piece.
 * Every byte of it becomes resident as a stream passes through: 48 MiB made a
 * tree make of a /usr/share copy as fast as 64 MiB (alternating runs) with
 * 15 MiB less peak RSS; 32 MiB was slower.
 */
export const ringSizeFor = (maxChunk: number) => Math.max(48 << 20, maxChunk + 2 * SCAN_SEGMENT + RING_PIECE);

/** Largest piece reserve() hands out at once. */
export const RING_PIECE = 1 << 20;

export class RingWriter {
  private readonly bytes: Uint8Array;
  written = 0;

  /**
   * `ring` is the pipeline's input (see ringSizeFor()); `tee`, if given, also
   * receives every committed byte in order (a .catar file being written).
   */
  constructor(
    ring: SharedArrayBuffer,
    private readonly pipeline: ChunkPipeline,
    private readonly tee?: (bytes: Uint8Array) => void | Promise<void>,
  ) {
    this.bytes = new Uint8Array(ring);
  }

  /**
   * Writes `data` into the ring.  Like reserve() and commit(), it returns a
   * promise only when it has to wait for the jobs: the encoder calls these a
   * few times per file, and a promise per call was most of what a tree make
   * allocated on its main thread.
   */
  write(data: Uint8Array): Promise<void> | void {
    return this.writeFrom(data, 0);
  }

  private writeFrom(data: Uint8Array, from: number): Promise<void> | void {
    for (let o = from; o < data.length; ) {
      const n = Math.min(RING_PIECE, data.length - o);
      const views = this.reserve(n);
      if (views instanceof Promise) return views.then((v) => this.put(v, data, o, n)).then(() => this.writeFrom(data, o + n));
      const c = this.put(views, data, o, n);
      o += n;
      if (c) return c.then(() => this.writeFrom(data, o));
    }
  }

  /** Fills reserved views with data[o, o + n) and commits them. */
  private put(views: Uint8Array[], data: Uint8Array, o: number, n: number): Promise<void> | void {
    let at = o;
    for (const v of views) {
      v.set(data.subarray(at, at + v.length));
      at += v.length;
    }
    return this.commit(n);
  }

  /**
   * Space for the next n (≤ RING_PIECE) stream bytes, as one or two views (two
   * when it wraps).  Fill them, then commit(n).
   */
  reserve(n: number): Uint8Array[] | Promise<Uint8Array[]> {
    const w = this.pipeline.release(this.written + n - this.bytes.length);
    return w ? w.then(() => this.views(n)) : this.views(n);
  }

  private views(n: number): Uint8Array[] {
    const size = this.bytes.length;
    const at = this.written % size;
    if (at + n <= size) return [this.bytes.subarray(at, at + n)];
    return [this.bytes.subarray(at), this.bytes.subarray(0, n - (size - at))];
  }

  commit(n: number): Promise<void> | void {
    if (this.tee) return this.teeAndCommit(n);
    this.written += n;
    return this.pipeline.advance(this.written);
  }

  private async teeAndCommit(n: number): Promise<void> {
    const size = this.bytes.length;
    const at = this.written % size;
    const first = Math.min(n, size - at);
    await this.tee!(this.bytes.subarray(at, at + first));
    if (first < n) await this.tee!(this.bytes.subarray(0, n - first));
    this.written += n;
    await this.pipeline.advance(this.written);
  }
}
