// One end of a CA_PROTOCOL stream on Node: frames read from a Readable (the ssh
// child's stdout, or our stdin when serving) and written to a Writable (its
// stdin, or our stdout).  Reading pauses while the consumer of frames() is busy,
// so the pipe, not memory, holds what the peer sends ahead.  Writing waits for
// the pipe to drain, and for --rate-limit-bps when there is one, so a fast
// sender never buffers a whole store in memory; a peer that went away turns
// the next send into an error instead of a crash (EPIPE is an 'error' event).

import type { Readable, Writable } from 'node:stream';
import { WasyncError, networkError } from '../../../errors.ts';
import { FrameParser, type CaProtocolFrame } from '../../../protocol/frame-parser.ts';
import type { RateLimiter } from '../../../stores/rate-limiter.ts';

export class FrameChannel {
  readonly parser: FrameParser;
  private broken: WasyncError | null = null;
  private closed = false;
  private waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly limiter: RateLimiter | null = null,
  ) {
    this.parser = new FrameParser(name);
    output.on('error', (e: NodeJS.ErrnoException) => this.break(networkError(`${name}: cannot send: ${e.code ?? e.message}`, e)));
    output.on('close', () => this.break(networkError(`${name}: the connection is closed`)));
    output.on('drain', () => this.release());
  }

  /**
   * Every frame the peer sends, validated (FrameParser); ends at the end of its
   * stream.  The caller then calls parser.end() if a frame cut short is the
   * peer's fault (rather than a sign that it died, which says more).
   */
  async *frames(): AsyncGenerator<CaProtocolFrame> {
    for await (const piece of this.input) {
      for (const f of this.parser.push(piece as Uint8Array)) yield f;
    }
  }

  /** Writes one whole frame; resolves once the pipe can take more. */
  async send(frame: Uint8Array): Promise<void> {
    if (this.broken) throw this.broken;
    if (this.closed) throw networkError(`${this.name}: a frame sent after the end of the session`);
    if (this.limiter) await this.limiter.take(frame.length);
    if (this.output.write(frame)) return;
    await new Promise<void>((resolve) => {
      this.waiters.add(resolve);
    });
    if (this.broken) throw this.broken;
  }

  /** Whether `e` is this channel's own "the peer is gone" error, which the peer's exit status explains better. */
  isBroken(e: unknown): boolean {
    return e !== null && e === this.broken;
  }

  /** No more frames from this side. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.broken) this.output.end();
  }

  private break(e: WasyncError) {
    this.broken ??= e;
    this.release();
  }

  private release() {
    const w = [...this.waiters];
    this.waiters.clear();
    for (const r of w) r();
  }
}
