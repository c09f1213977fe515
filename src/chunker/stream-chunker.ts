// A casync chunker fed with arbitrary pieces of one stream, on the calling thread.
// Cuts do not depend on how the stream is split: each piece is scanned with the 47
// bytes before it as look-behind, and cuts are decided by the CutResolver.

import { CandidateScanner } from './scanner.ts';
import { CutResolver } from './cut-resolver.ts';
import { BUZHASH_WINDOW, discriminator, type ChunkSizes } from './sizes.ts';

const LOOK_BEHIND = BUZHASH_WINDOW - 1;

export class StreamChunker {
  private readonly resolver: CutResolver;
  private readonly scanner: CandidateScanner | null;
  private readonly d: number;
  private readonly history = new Uint8Array(LOOK_BEHIND);
  private fed = 0;

  constructor(sizes: ChunkSizes, windowSize = 1 << 20) {
    this.resolver = new CutResolver(sizes);
    this.scanner = this.resolver.needsCandidates ? new CandidateScanner(windowSize) : null;
    this.d = discriminator(sizes);
  }

  /** Bytes fed so far. */
  get offset(): number {
    return this.fed;
  }

  /** Feeds the next bytes; returns the absolute end offsets of chunks now complete. */
  feed(data: Uint8Array): number[] {
    if (!this.scanner) {
      this.fed += data.length;
      return this.resolver.push([], 0, this.fed);
    }
    const cuts: number[] = [];
    const cap = this.scanner.capacity;
    for (let o = 0; o < data.length; o += cap) {
      cuts.push(...this.scanPiece(data.subarray(o, Math.min(o + cap, data.length))));
    }
    return cuts;
  }

  /** Ends the stream; returns the remaining cuts (the last is the stream length). */
  end(): number[] {
    return this.resolver.finish(this.fed);
  }

  private scanPiece(piece: Uint8Array): number[] {
    const scanner = this.scanner as CandidateScanner;
    const lb = Math.min(LOOK_BEHIND, this.fed);
    const win = scanner.window();
    win.set(this.history.subarray(LOOK_BEHIND - lb), 0);
    win.set(piece, lb);
    const len = lb + piece.length;
    const base = this.fed - lb;
    const candidates = scanner.scan(len, Math.max(lb + 1, BUZHASH_WINDOW), this.d, base);
    // Keep the last 47 bytes fed (they may come partly from older pieces).
    const tail = win.subarray(Math.max(0, len - LOOK_BEHIND), len);
    this.history.copyWithin(0, tail.length);
    this.history.set(tail, LOOK_BEHIND - tail.length);
    this.fed += piece.length;
    return this.resolver.push(candidates, base, this.fed);
  }
}
