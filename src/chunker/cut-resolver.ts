// Turns candidate positions into casync's cuts (casync-format.md §1.4).
//
// After a cut at s, the next cut is the first candidate at or after
// s + max(min, 48), or s + max when none comes before it; the rest of the input
// after the last cut is the final chunk.  Candidates arrive in ascending order
// together with how far the input has been scanned, so cuts are emitted as soon
// as they are certain.  With min = avg = max every chunk is exactly avg bytes and
// candidates are not used.

import { BUZHASH_WINDOW, isFixedSize, type ChunkSizes } from './sizes.ts';

export class CutResolver {
  private start = 0;
  private queue: number[] = [];
  private head = 0;
  private readonly first: number;
  private readonly fixed: boolean;

  constructor(readonly sizes: ChunkSizes) {
    this.first = Math.max(sizes.min, BUZHASH_WINDOW);
    this.fixed = isFixedSize(sizes);
  }

  /** Whether cuts are decided without candidates (min = avg = max). */
  get needsCandidates(): boolean {
    return !this.fixed;
  }

  /**
   * Adds candidates (absolute end positions base + c[i], ascending, all beyond
   * earlier ones) and says that every position up to `scannedTo` has been
   * examined.  Returns the absolute cut positions that are now certain.
   */
  push(candidates: ArrayLike<number>, base: number, scannedTo: number): number[] {
    for (let i = 0; i < candidates.length; i++) this.queue.push(base + candidates[i]);
    return this.resolve(scannedTo);
  }

  /** Ends the input at `total` bytes; returns the remaining cuts, the last one being `total`. */
  finish(total: number): number[] {
    const cuts = this.resolve(total);
    if (this.start < total) {
      cuts.push(total);
      this.start = total;
    }
    return cuts;
  }

  private resolve(scannedTo: number): number[] {
    const cuts: number[] = [];
    const { max, avg } = this.sizes;
    for (;;) {
      let cut: number;
      if (this.fixed) {
        cut = this.start + avg;
        if (cut > scannedTo) break;
      } else {
        const lo = this.start + this.first;
        const hi = this.start + max;
        while (this.head < this.queue.length && this.queue[this.head] < lo) this.head++;
        if (this.head < this.queue.length && this.queue[this.head] <= hi) cut = this.queue[this.head];
        else if (hi <= scannedTo) cut = hi;
        else break;
      }
      cuts.push(cut);
      this.start = cut;
    }
    if (this.head > 4096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return cuts;
  }
}
