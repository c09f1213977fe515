// The catar stream as both tree sources write it into a sink: records gathered
// and written in one piece before the next payload (or when many are waiting),
// one ring write per file rather than one per record; payloads read from a
// descriptor straight into the sink's buffer.

import { readSync } from 'node:fs';
import { WasyncError, ioError } from '../../../errors.ts';
import { RING_PIECE } from '../pool/ring-writer.ts';
import type { CatarSink, StreamObserver } from './encode-tree.ts';
import type { SparseRegion } from '../../../format/tar-sparse.ts';

const RECORDS_FLUSH = 64 << 10;

export class CatarOutput {
  private pending = Buffer.allocUnsafe(RECORDS_FLUSH);
  private pendingUsed = 0;

  constructor(
    private readonly sink: CatarSink,
    private readonly observer?: StreamObserver,
  ) {}

  records(bytes: Uint8Array): Promise<void> | void {
    this.observer?.records(bytes);
    if (this.pendingUsed + bytes.length > this.pending.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.pending.length, this.pendingUsed + bytes.length));
      this.pending.copy(bigger, 0, 0, this.pendingUsed);
      this.pending = bigger;
    }
    this.pending.set(bytes, this.pendingUsed);
    this.pendingUsed += bytes.length;
    if (this.pendingUsed >= RECORDS_FLUSH) return this.flush();
  }

  /** Returns a promise only when the sink does (see CatarSink.write). */
  flush(): Promise<void> | void {
    if (!this.pendingUsed) return;
    const n = this.pendingUsed;
    this.pendingUsed = 0;
    return this.sink.write(this.pending.subarray(0, n));
  }

  /**
   * Streams exactly `size` bytes of `fd` from `start` into the sink; `path`
   * names the file in messages (and to the observer), `what` the source.
   * With `sparse`, the bytes at `start` are those regions of the file, back to
   * back, and the rest is zeros.  Returns a promise only when the sink makes
   * it wait (see CatarSink).
   */
  payload(path: Buffer, fd: number, start: number, size: number, what: () => string = () => path.toString(), sparse: readonly SparseRegion[] | null = null): Promise<void> | void {
    const w = this.flush();
    if (w || sparse) return this.slowPayload(w, path, fd, start, size, what, sparse);
    this.observer?.payload(path, size);
    return this.copy(fd, start, size, what, size, 0);
  }

  /** payload() when the sink makes it wait (`w`) or the file has sparse regions. */
  private async slowPayload(w: Promise<void> | void, path: Buffer, fd: number, start: number, size: number, what: () => string, sparse: readonly SparseRegion[] | null) {
    await w;
    this.observer?.payload(path, size);
    if (!sparse) return this.copy(fd, start, size, what, size, 0);
    let at = 0;
    let from = start;
    for (const r of sparse) {
      await this.zeros(r.offset - at);
      await this.copy(fd, from, r.length, what, size, 0);
      at = r.offset + r.length;
      from += r.length;
    }
    await this.zeros(size - at);
  }

  private async zeros(n: number) {
    for (let done = 0; done < n; ) {
      const k = Math.min(RING_PIECE, n - done);
      for (const v of await this.sink.reserve(k)) v.fill(0);
      await this.sink.commit(k);
      done += k;
    }
  }

  /** fd[start + done, start + size) into the sink; a promise only when the sink makes it wait. */
  private copy(fd: number, start: number, size: number, what: () => string, whole: number, done: number): Promise<void> | void {
    while (done < size) {
      const n = Math.min(RING_PIECE, size - done);
      const views = this.sink.reserve(n);
      const at = done;
      if (views instanceof Promise) return views.then((v) => this.fill(v, fd, start, at, n, what, whole)).then(() => this.copy(fd, start, size, what, whole, at + n));
      const c = this.fill(views, fd, start, at, n, what, whole);
      done += n;
      if (c) return c.then(() => this.copy(fd, start, size, what, whole, at + n));
    }
  }

  /** Reads fd[start + done, start + done + n) into reserved views and commits them. */
  private fill(views: Uint8Array[], fd: number, start: number, done: number, n: number, what: () => string, whole: number): Promise<void> | void {
    let got = 0;
    for (const v of views) {
      let filled = 0;
      while (filled < v.length) {
        let r: number;
        try {
          r = readSync(fd, v, filled, v.length - filled, start + done + got + filled);
        } catch (e) {
          throw ioError('EINPUT', what(), e);
        }
        if (r === 0) {
          throw new WasyncError('EINPUT', `${what()}: the file shrank while it was archived (${done + got + filled} of ${whole} bytes)`);
        }
        filled += r;
      }
      got += v.length;
    }
    return this.sink.commit(n);
  }
}
