// The candidate scan of a make with an encoder cache (cached-make.ts) over the
// parts of the stream it has bytes of: record bytes, small files, and the
// first 47 bytes of larger files.  Like StreamChunker it keeps the 47 bytes
// before each piece as look-behind, so a window that straddles two pieces is
// tested on its true bytes; jump() passes over a file's content whose inside
// candidates are known, leaving its last 47 bytes as the look-behind.

import type { CandidateScanner } from '../../../chunker/scanner.ts';
import { BUZHASH_WINDOW } from '../../../chunker/sizes.ts';

const LOOK_BEHIND = BUZHASH_WINDOW - 1;

export class BoundaryScanner {
  private readonly history = new Uint8Array(LOOK_BEHIND);
  /** stream bytes before `offset` that the history holds (at most 47) */
  private held = 0;
  private offset = 0;
  /** the scanner's window (its memory does not grow after construction) */
  private readonly win: Uint8Array;

  constructor(
    private readonly scanner: CandidateScanner,
    private readonly d: number,
  ) {
    this.win = scanner.window();
  }

  /** The next stream bytes; returns the candidates among their end positions, ascending. */
  feed(data: Uint8Array): number[] {
    const out: number[] = [];
    const cap = this.scanner.capacity;
    for (let o = 0; o < data.length; o += cap) this.piece(data.subarray(o, Math.min(o + cap, data.length)), out);
    return out;
  }

  /**
   * feed() of `a` then `b` (record bytes and the head of the file after them)
   * in one scan when they fit the window, which a second make does per file.
   */
  feedTwo(a: Uint8Array, b: Uint8Array): number[] {
    if (a.length + b.length > this.scanner.capacity) return [...this.feed(a), ...this.feed(b)];
    const out: number[] = [];
    this.piece(a, out, b);
    return out;
  }

  /** The stream goes on at `to`; `tail` (47 bytes) are the bytes just before it. */
  jump(to: number, tail: Uint8Array): void {
    this.history.set(tail.subarray(tail.length - LOOK_BEHIND));
    this.held = LOOK_BEHIND;
    this.offset = to;
  }

  /** Scans `piece` (followed by `more`, if given) after the look-behind. */
  private piece(piece: Uint8Array, out: number[], more?: Uint8Array) {
    const lb = this.held;
    const win = this.win;
    win.set(this.history.subarray(LOOK_BEHIND - lb), 0);
    win.set(piece, lb);
    if (more) {
      win.set(more, lb + piece.length);
      piece = win.subarray(lb, lb + piece.length + more.length);
    }
    const len = lb + piece.length;
    const base = this.offset - lb;
    for (const c of this.scanner.scan(len, Math.max(lb + 1, BUZHASH_WINDOW), this.d, base)) out.push(base + c);
    const tail = win.subarray(Math.max(0, len - LOOK_BEHIND), len);
    this.history.copyWithin(0, tail.length);
    this.history.set(tail, LOOK_BEHIND - tail.length);
    this.held = Math.min(LOOK_BEHIND, lb + piece.length);
    this.offset += piece.length;
  }
}
