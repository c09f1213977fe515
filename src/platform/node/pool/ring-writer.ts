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

  async write(data: Uint8Array): Promise<void> {
    for (let o = 0; o < data.length; ) {
      const piece = data.subarray(o, o + RING_PIECE);
      const views = await this.reserve(piece.length);
      let at = 0;
      for (const v of views) {
        v.set(piece.subarray(at, at + v.length));
        at += v.length;
      }
      await this.commit(piece.length);
      o += piece.length;
    }
  }

  /**
   * Space for the next n (≤ RING_PIECE) stream bytes, as one or two views (two
   * when it wraps).  Fill them, then commit(n).
   */
  async reserve(n: number): Promise<Uint8Array[]> {
    const size = this.bytes.length;
    await this.pipeline.release(this.written + n - size);
    const at = this.written % size;
    if (at + n <= size) return [this.bytes.subarray(at, at + n)];
    return [this.bytes.subarray(at), this.bytes.subarray(0, n - (size - at))];
  }

  async commit(n: number): Promise<void> {
    if (this.tee) {
      const size = this.bytes.length;
      const at = this.written % size;
      const first = Math.min(n, size - at);
      await this.tee(this.bytes.subarray(at, at + first));
      if (first < n) await this.tee(this.bytes.subarray(0, n - first));
    }
    this.written += n;
    await this.pipeline.advance(this.written);
  }
}
