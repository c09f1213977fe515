// The index or archive bytes of a CA_PROTOCOL session, from the frames that
// carry them to whoever reads them as a stream (the index parser, the tree
// extractor).  The frame reader must never wait on the reader when the same
// session also carries the chunks the reader is waiting for (an index pulled
// together with its chunks), so by default the queue takes everything; an
// archive, which can be gigabytes and shares its session with nothing, asks
// for a limit, and push() then waits while that much is unread.

export class StreamQueue implements AsyncIterable<Uint8Array> {
  private items: Uint8Array[] = [];
  private queued = 0;
  private done = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  private room: (() => void) | null = null;
  private abandoned = false;

  /** `limit`: bytes queued before push() waits; Infinity never waits. */
  constructor(private readonly limit = Infinity) {}

  async push(bytes: Uint8Array): Promise<void> {
    this.items.push(bytes);
    this.queued += bytes.length;
    this.signal();
    while (this.queued > this.limit && !this.failure && !this.abandoned) {
      await new Promise<void>((r) => (this.room = r));
    }
  }

  end(): void {
    this.done = true;
    this.signal();
  }

  /** Ends the stream with an error, unless it was complete already. */
  fail(e: unknown): void {
    if (!this.done) this.failure ??= e;
    this.signal();
    this.makeRoom();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        if (this.items.length) {
          const b = this.items.shift()!;
          this.queued -= b.length;
          if (this.queued <= this.limit) this.makeRoom();
          yield b;
          continue;
        }
        if (this.done) return;
        await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      // A reader that stops early (an error downstream) must not leave push() waiting.
      this.abandoned = true;
      this.makeRoom();
    }
  }

  private makeRoom() {
    const r = this.room;
    this.room = null;
    r?.();
  }

  private signal() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
