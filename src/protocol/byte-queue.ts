// The bytes received on a connection and not yet parsed, as the pieces they
// arrived in: a protocol parser takes fixed-size messages from the front (a view
// when a message lies within one piece, a copy when it straddles pieces) and
// skips payloads it does not keep (the data of a refused NBD_CMD_WRITE, an
// oversized option) without ever buffering them whole.  Runtime-neutral.
//
// The pieces must not be modified after push(): views of them are handed out.

export class ByteQueue {
  private pieces: Uint8Array[] = [];
  /** bytes of pieces[0] already consumed */
  private head = 0;
  /** bytes buffered */
  length = 0;

  push(b: Uint8Array): void {
    if (!b.length) return;
    this.pieces.push(b);
    this.length += b.length;
  }

  /** The first n bytes (n <= length), removed from the queue. */
  take(n: number): Uint8Array {
    if (n > this.length) throw new RangeError(`take(${n}) of ${this.length} buffered bytes`);
    const first = this.pieces[0];
    if (n === 0) return new Uint8Array(0);
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.consume(n);
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const p = this.pieces[0];
      const k = Math.min(n - o, p.length - this.head);
      out.set(p.subarray(this.head, this.head + k), o);
      o += k;
      this.consume(k);
    }
    return out;
  }

  /** Drops up to n bytes from the front; returns how many were dropped. */
  skip(n: number): number {
    let done = 0;
    while (done < n && this.length) {
      const k = Math.min(n - done, this.pieces[0].length - this.head);
      this.consume(k);
      done += k;
    }
    return done;
  }

  clear(): void {
    this.pieces = [];
    this.head = 0;
    this.length = 0;
  }

  /** Advances within the first piece (k at most what is left of it). */
  private consume(k: number): void {
    this.head += k;
    this.length -= k;
    if (this.head === this.pieces[0].length) {
      this.pieces.shift();
      this.head = 0;
    }
  }
}
