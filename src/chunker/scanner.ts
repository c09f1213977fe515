// Host side of the wasm candidate scanner: owns one core instance, one input
// window and one output array in its linear memory.  Callers fill window() with
// up to 47 bytes of look-behind followed by new data, then call scan().

import { BUZHASH_WINDOW } from './sizes.ts';
import { instantiateCore, type CoreExports } from '../wasm/core.ts';

const OUT_CAP = 1 << 16;
/**
 * A window can start up to ALIGN - 1 bytes later (`shift`), so that a copy into
 * it from shared memory is word-aligned on both sides: V8 copies out of a
 * SharedArrayBuffer in relaxed atomic words only when source and target are
 * aligned alike, else byte by byte, at a fifth of the speed (290 against 65 ms
 * per GB here; 0.2 s of a tree make's CPU went to it).
 */
const ALIGN = 8;
/** what most scans of a few hundred bytes find (never written to: callers only read) */
const NONE = new Uint32Array(0);

export class CandidateScanner {
  private readonly core: CoreExports;
  private readonly windowPtr: number;
  private readonly outPtr: number;

  constructor(readonly capacity: number) {
    this.core = instantiateCore();
    this.windowPtr = this.core.allocate(capacity + BUZHASH_WINDOW + ALIGN);
    this.outPtr = this.core.allocate(OUT_CAP * 4);
  }

  /** The input window; valid until the next allocation (there is none after construction). */
  window(shift = 0): Uint8Array {
    return new Uint8Array(this.core.memory.buffer, this.windowPtr + shift, this.capacity + BUZHASH_WINDOW);
  }

  /** The shift that aligns window(shift) with bytes copied from offset `at` of an aligned buffer. */
  shiftFor(at: number): number {
    return (at - this.windowPtr) & (ALIGN - 1);
  }

  /**
   * Candidate cut positions among the window end positions from..len (relative
   * to the window start; from >= 48): those where the 48 bytes before pass the
   * discriminator test.  Returned ascending, relative to the window start.
   * `offset` is the stream offset of the window start (zero pages are found at
   * page-aligned stream offsets).  `shift`: the window(shift) the bytes are in.
   */
  scan(len: number, from: number, d: number, offset = 0, shift = 0): Uint32Array {
    if (from > len) return NONE;
    // Most calls fill the output once (the encoder cache makes ~10^5 small ones, most finding nothing).
    const first = this.core.scan(this.windowPtr + shift, len, from, d, this.outPtr, OUT_CAP, offset % 4096);
    const resume = this.core.resumePosition();
    const done = resume === 0 || resume > len;
    if (first === 0 && done) return NONE;
    const one = new Uint32Array(this.core.memory.buffer, this.outPtr, first).slice();
    if (done) return one;
    const parts: Uint32Array[] = [one];
    let total = first;
    for (let start = resume; ; ) {
      const n = this.core.scan(this.windowPtr + shift, len, start, d, this.outPtr, OUT_CAP, offset % 4096);
      parts.push(new Uint32Array(this.core.memory.buffer, this.outPtr, n).slice());
      total += n;
      start = this.core.resumePosition();
      if (start === 0 || start > len) break;
    }
    if (parts.length === 1) return parts[0];
    const all = new Uint32Array(total);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return all;
  }

  /** The buzhash of the 48 window bytes ending at `end` (tests and diagnostics). */
  windowHash(end: number): number {
    return this.core.windowHash(this.windowPtr + end) >>> 0;
  }
}
