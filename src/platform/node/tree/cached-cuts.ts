// The candidates and cuts of a make with an encoder cache (cached-make.ts):
// the stream's segments (cached-stream.ts) taken in order, as far as they are
// known, and turned into buzhash candidates and then cuts for the chunk maker.
//
// A literal segment (record bytes, a tiny file's content) is scanned here with
// the boundary scanner's look-behind; a file larger than TINY contributes its
// first EDGE bytes, scanned here too because their windows straddle the bytes
// before it, then its own candidates (remembered, or found by a scan job),
// after which the look-behind is its last EDGE bytes.  A segment followed by a
// file whose head is known is scanned with that head as one feed.  Every
// candidate also goes into the next cache's layout, so the next make finds
// the ones of unchanged runs without scanning them.

import { CandidateScanner } from '../../../chunker/scanner.ts';
import { CutResolver } from '../../../chunker/cut-resolver.ts';
import { discriminator, type ChunkSizes } from '../../../chunker/sizes.ts';
import { BoundaryScanner } from './boundary-scanner.ts';
import type { ChunkMaker } from './cached-chunks.ts';
import type { FileScans } from './cached-scans.ts';
import type { CachedStream } from './cached-stream.ts';
import { EDGE } from './encoder-cache-file.ts';
import type { LayoutWriter } from './stream-layout.ts';

export class CachedCuts {
  private readonly boundary: BoundaryScanner;
  private readonly resolver: CutResolver;
  /** the first segment not yet taken */
  private seg = 0;

  constructor(
    sizes: ChunkSizes,
    private readonly stream: CachedStream,
    private readonly scans: FileScans,
    private readonly chunks: ChunkMaker,
    private readonly layout: LayoutWriter,
    /** how many scans or chunk jobs may be outstanding before the walk waits */
    private readonly depth: number,
  ) {
    this.boundary = new BoundaryScanner(new CandidateScanner(1 << 20), discriminator(sizes));
    this.resolver = new CutResolver(sizes);
  }

  /**
   * Candidates and cuts as far as the segments are known (a file read this
   * time is known once its scan is back); `wait`: to the end of the stream.
   * Returns a promise only when it has to wait.
   */
  pump(wait: boolean): Promise<void> | void {
    const blocked = this.advance(wait);
    if (blocked) return blocked.then(() => this.pump(wait));
  }

  /** After pump(true): the last cut, at the end of the stream. */
  finish(): void {
    this.chunks.cuts(this.resolver.finish(this.stream.offset));
  }

  /** As far as it can go without waiting; else what to wait for. */
  private advance(wait: boolean): Promise<unknown> | null {
    const { segSrc, segStart, segLen, arena, files } = this.stream;
    this.scans.takeDone();
    while (this.seg < segSrc.length) {
      const i = this.seg;
      const src = segSrc[i];
      const start = segStart[i];
      // The last segment may still grow.
      if (src >= 0 && i === segSrc.length - 1 && !wait) break;
      if (src >= 0) {
        const bytes = new Uint8Array(arena.buffer, arena.byteOffset + src, segLen[i]);
        const next = i + 1 < segSrc.length && segSrc[i + 1] < 0 ? files[-segSrc[i + 1] - 1] : null;
        if (next?.head) {
          // the records and the file after them, scanned as one
          const at = segStart[i + 1];
          this.chunks.cuts(this.push(this.boundary.feedTwo(bytes, next.head), 0, at + EDGE));
          this.boundary.jump(at + next.size, next.tail!);
          this.chunks.cuts(this.push(next.candidates!, at, at + next.size));
          this.seg++;
        } else this.chunks.cuts(this.push(this.boundary.feed(bytes), 0, start + bytes.length));
      } else {
        const f = files[-src - 1];
        if (!f.head) {
          // read this time: known once its scan is back
          if (!wait) break;
          if (!f.batch) this.scans.flush();
          return this.scans.first();
        }
        this.chunks.cuts(this.push(this.boundary.feed(f.head), 0, start + EDGE));
        this.boundary.jump(start + f.size, f.tail!);
        this.chunks.cuts(this.push(f.candidates!, start, start + f.size));
      }
      this.seg++;
      if (this.chunks.waiting > this.depth) return this.drain();
    }
    return null;
  }

  /** The resolver's push(), the candidates also kept for the next make. */
  private push(candidates: ArrayLike<number>, base: number, scannedTo: number): number[] {
    this.layout.addCandidates(candidates, base);
    return this.resolver.push(candidates, base, scannedTo);
  }

  private async drain() {
    while (this.chunks.waiting > this.depth) await this.chunks.completeFirst();
  }
}
