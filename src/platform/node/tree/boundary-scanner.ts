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
  /**
   * The scanner's window (its memory does not grow after construction): the
   * look-behind in its first `held` bytes, kept there between pieces, so that
   * a piece costs no view or copy beyond its own bytes (10^5 pieces in a
   * second make).
   */
  private readonly win: Uint8Array;
  /** stream bytes before `offset` that the window holds (at most 47) */
  private held = 0;
  private offset = 0;

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
    if (data.length <= cap) this.piece(data, out);
    else for (let o = 0; o < data.length; o += cap) this.piece(data.subarray(o, Math.min(o + cap, data.length)), out);
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

  /** The stream goes on at `to`; `tail` (at least 47 bytes) are the bytes just before it. */
  jump(to: number, tail: Uint8Array): void {
    this.win.set(tail.length === LOOK_BEHIND ? tail : tail.subarray(tail.length - LOOK_BEHIND), 0);
    this.held = LOOK_BEHIND;
    this.offset = to;
  }

  /** Scans `piece` (followed by `more`, if given) after the look-behind. */
  private piece(piece: Uint8Array, out: number[], more?: Uint8Array) {
    const lb = this.held;
    const win = this.win;
    win.set(piece, lb);
    let n = piece.length;
    if (more) {
      win.set(more, lb + n);
      n += more.length;
    }
    const len = lb + n;
    const base = this.offset - lb;
    const found = this.scanner.scan(len, Math.max(lb + 1, BUZHASH_WINDOW), this.d, base);
    for (let i = 0; i < found.length; i++) out.push(base + found[i]);
    this.held = Math.min(LOOK_BEHIND, len);
    win.copyWithin(0, len - this.held, len);
    this.offset += n;
  }
}
