// One NBD connection to a read-only export: framing of the byte stream, the
// handshake (handshake.ts decides the answers), and the transmission phase.
// Runtime-neutral: bytes come in through push(), go out through an NbdTransport,
// and the export's bytes come from a ReadAt (an IndexReadAt, whose every chunk is
// verified against its id before any byte of it is served).
//
// Transmission (protocol.ts has the layouts):
//   * NBD_CMD_READ requests are served concurrently, as they arrive, and answered
//     as each completes, so replies may leave out of order (the cookie pairs
//     them); input is paused while `maxInFlight` requests or 64 MiB are being
//     read, or while the peer is not taking our replies.
//   * A read that fails (a chunk missing or corrupt in every store) is answered
//     with NBD_EIO and logged once; no byte of a chunk that failed is ever sent.
//   * NBD_CMD_WRITE (its payload is read and dropped), NBD_CMD_TRIM and
//     NBD_CMD_WRITE_ZEROES get NBD_EPERM; other commands NBD_EINVAL.
//   * NBD_CMD_DISC: the open reads are answered, then the connection is closed.
// With structured replies negotiated a read is answered with one
// NBD_REPLY_TYPE_OFFSET_DATA chunk (NBD_REPLY_FLAG_DONE) or one
// NBD_REPLY_TYPE_ERROR chunk carrying the message; otherwise with simple replies.
// The Linux kernel's socket skips the handshake (`transmissionOnly`) and uses
// simple replies.
//
// An export may be larger than its reader (the kernel needs whole 512-byte
// sectors): the bytes past the reader's end read as zeros.

import type { ReadAt } from '../engine/random-access.ts';
import { MAX_PAYLOAD, Negotiation, type ExportInfo } from './nbd-handshake.ts';
import {
  IHAVEOPT,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_DF,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_EIO,
  NBD_EPERM,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_OPT_EXPORT_NAME,
  NBD_REP_ERR_TOO_BIG,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_NONE,
  NBD_REQUEST_MAGIC,
  OPTION_HEADER_SIZE,
  REQUEST_SIZE,
  commandName,
  decodeOptionHeader,
  decodeRequest,
  encodeGreeting,
  encodeOffsetDataHeader,
  encodeOptionError,
  encodeSimpleReply,
  encodeStructuredError,
  encodeStructuredHeader,
  optionName,
  type Request,
} from './nbd-protocol.ts';
import { ByteQueue } from './byte-queue.ts';

export interface NbdExport extends ExportInfo {
  /** the bytes; `size` may exceed reader.size (the rest reads as zeros) */
  reader: ReadAt;
}

/** Where a session's replies go (a socket). */
export interface NbdTransport {
  /** Queues bytes for the peer in order; false once the peer lags (then call drained() later). */
  write(parts: readonly Uint8Array[]): boolean;
  /** Closes once what is queued has been sent. */
  end(): void;
  /** Hard disconnect. */
  destroy(): void;
  /** Stop and restart delivering input to push(). */
  pause(): void;
  resume(): void;
}

export interface NbdSessionOptions {
  export: NbdExport;
  transport: NbdTransport;
  /** one line per failed request or protocol violation */
  log(line: string): void;
  /** the Linux kernel's socket: no handshake, simple replies */
  transmissionOnly?: boolean;
  /** requests served at once before input is paused (default 16) */
  maxInFlight?: number;
  /** names the peer in log lines */
  peer?: string;
}

/** Options with more data than this are skipped and refused (NBD_REP_ERR_TOO_BIG). */
const MAX_OPTION_DATA = 1 << 16;
/** Bytes being read at once before input is paused (however few the requests). */
const MAX_IN_FLIGHT_BYTES = 64 << 20;

type State =
  | { s: 'client-flags' }
  | { s: 'option' }
  | { s: 'option-data'; option: number; length: number }
  | { s: 'option-skip'; option: number; left: number }
  | { s: 'request' }
  | { s: 'write-data'; request: Request; left: number }
  | { s: 'done' };

export class NbdSession {
  private readonly input = new ByteQueue();
  private readonly neg: Negotiation;
  private readonly max: number;
  private state: State;
  private inFlight = 0;
  private inFlightBytes = 0;
  private congested = false;
  private paused = false;
  private pumping = false;
  /** NBD_CMD_DISC or a server shutdown: close once the open reads are answered */
  private finishing = false;
  private gone = false;
  private resolveClosed!: () => void;
  /** Settles when the transport has closed. */
  readonly closed = new Promise<void>((r) => (this.resolveClosed = r));

  constructor(private readonly o: NbdSessionOptions) {
    this.neg = new Negotiation(o.export);
    this.max = Math.max(1, o.maxInFlight ?? 16);
    if (o.transmissionOnly) {
      this.state = { s: 'request' };
    } else {
      this.state = { s: 'client-flags' };
      this.send([encodeGreeting(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES)]);
    }
  }

  /** Bytes from the peer. */
  push(bytes: Uint8Array): void {
    if (this.state.s === 'done') return;
    this.input.push(bytes);
    this.pump();
  }

  /** The transport can take more replies. */
  drained(): void {
    this.congested = false;
    this.wake();
  }

  /** The transport has closed (either side). */
  transportClosed(): void {
    this.gone = true;
    this.state = { s: 'done' };
    this.input.clear();
    this.resolveClosed();
  }

  /** The peer will send nothing more: answer the open reads, then close (as after NBD_CMD_DISC). */
  inputEnded(): void {
    if (this.state.s === 'done' && this.finishing) return;
    this.state = { s: 'done' };
    this.input.clear();
    this.finishing = true;
    this.finishIfIdle();
  }

  /** Hard disconnect, whatever is open (a shutdown that took too long). */
  forceClose(): void {
    this.state = { s: 'done' };
    this.o.transport.destroy();
  }

  /** Server shutdown: stop taking requests, answer the open ones, then disconnect. */
  shutdown(): Promise<void> {
    if (this.state.s !== 'request' && this.state.s !== 'write-data' && this.state.s !== 'done') {
      this.o.transport.destroy();
    } else {
      this.state = { s: 'done' };
      this.finishing = true;
      this.finishIfIdle();
    }
    return this.closed;
  }

  private get peer(): string {
    return this.o.peer ? `${this.o.peer}: ` : '';
  }

  private send(parts: readonly Uint8Array[]): void {
    if (this.gone || !parts.length) return;
    if (!this.o.transport.write(parts)) this.congested = true;
  }

  /** A protocol violation: log it and hang up. */
  private drop(why: string): void {
    this.o.log(`${this.peer}${why}; disconnecting`);
    this.state = { s: 'done' };
    this.input.clear();
    this.o.transport.destroy();
  }

  private finishIfIdle(): void {
    if (this.finishing && this.inFlight === 0 && !this.gone) this.o.transport.end();
  }

  /** Resumes input when the limits allow it. */
  private wake(): void {
    if (this.paused && !this.blocked()) {
      this.paused = false;
      this.o.transport.resume();
    }
    this.pump();
  }

  private blocked(): boolean {
    return this.inFlight >= this.max || this.inFlightBytes >= MAX_IN_FLIGHT_BYTES || this.congested;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.step());
    } finally {
      this.pumping = false;
    }
  }

  /** Handles what the buffered input allows; false when it needs more (or must wait). */
  private step(): boolean {
    const st = this.state;
    const q = this.input;
    switch (st.s) {
      case 'client-flags': {
        if (q.length < 4) return false;
        const b = q.take(4);
        const flags = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
        if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
          this.drop(`client flags 0x${flags.toString(16)} include flags this server did not offer`);
          return false;
        }
        this.neg.noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) !== 0;
        this.state = { s: 'option' };
        return true;
      }
      case 'option': {
        if (q.length < OPTION_HEADER_SIZE) return false;
        const h = decodeOptionHeader(q.take(OPTION_HEADER_SIZE));
        if (h.magic !== IHAVEOPT) {
          this.drop(`option without the IHAVEOPT magic (0x${h.magic.toString(16)})`);
          return false;
        }
        this.state =
          h.length > MAX_OPTION_DATA
            ? { s: 'option-skip', option: h.option, left: h.length }
            : { s: 'option-data', option: h.option, length: h.length };
        return true;
      }
      case 'option-data': {
        if (q.length < st.length) return false;
        const outcome = this.neg.answer(st.option, q.take(st.length));
        this.send(outcome.replies);
        if (outcome.then === 'continue') this.state = { s: 'option' };
        else if (outcome.then === 'transmission') this.state = { s: 'request' };
        else if (outcome.then === 'drop') this.drop(outcome.why ?? optionName(st.option));
        else {
          this.state = { s: 'done' };
          this.o.transport.end();
        }
        return this.state.s !== 'done';
      }
      case 'option-skip': {
        st.left -= q.skip(st.left);
        if (st.left > 0) return false;
        if (st.option === NBD_OPT_EXPORT_NAME) {
          this.drop(`NBD_OPT_EXPORT_NAME with more than ${MAX_OPTION_DATA} bytes of data`);
          return false;
        }
        this.send([encodeOptionError(st.option, NBD_REP_ERR_TOO_BIG, `${optionName(st.option)}: more than ${MAX_OPTION_DATA} bytes of option data`)]);
        this.state = { s: 'option' };
        return true;
      }
      case 'request': {
        if (this.blocked()) {
          if (!this.paused) {
            this.paused = true;
            this.o.transport.pause();
          }
          return false;
        }
        if (q.length < REQUEST_SIZE) return false;
        this.request(decodeRequest(q.take(REQUEST_SIZE)));
        return this.state.s !== 'done';
      }
      case 'write-data': {
        st.left -= q.skip(st.left);
        if (st.left > 0) return false;
        this.replyError(st.request, NBD_EPERM, 'the export is read-only');
        this.state = { s: 'request' };
        return true;
      }
      case 'done':
        q.clear();
        return false;
    }
  }

  private request(r: Request): void {
    if (r.magic !== NBD_REQUEST_MAGIC) {
      this.drop(`request without NBD_REQUEST_MAGIC (0x${r.magic.toString(16)})`);
      return;
    }
    switch (r.type) {
      case NBD_CMD_READ:
        this.inFlight++;
        this.inFlightBytes += r.length;
        void this.serveRead(r);
        return;
      case NBD_CMD_WRITE:
        // The payload follows the request; it must be consumed to find the next one.
        if (r.length) this.state = { s: 'write-data', request: r, left: r.length };
        else this.replyError(r, NBD_EPERM, 'the export is read-only');
        return;
      case NBD_CMD_TRIM:
      case NBD_CMD_WRITE_ZEROES:
        this.replyError(r, NBD_EPERM, 'the export is read-only');
        return;
      case NBD_CMD_DISC:
        this.state = { s: 'done' };
        this.finishing = true;
        this.finishIfIdle();
        return;
      default:
        this.replyError(r, NBD_EINVAL, `${commandName(r.type)} is not supported by this server`);
    }
  }

  /** Why a read cannot be served, or null. */
  private checkRead(r: Request): string | null {
    const allowed = this.neg.structuredReplies ? NBD_CMD_FLAG_DF : 0;
    if (r.flags & ~allowed) return `command flags 0x${r.flags.toString(16)} are not valid for NBD_CMD_READ here`;
    if (r.length > MAX_PAYLOAD) return `a read of ${r.length} bytes exceeds the maximum payload of ${MAX_PAYLOAD} bytes`;
    if (r.offset + r.length > this.o.export.size) {
      return `a read of ${r.length} bytes at ${r.offset} goes past the end of the export (${this.o.export.size} bytes)`;
    }
    return null;
  }

  private async serveRead(r: Request): Promise<void> {
    try {
      const bad = this.checkRead(r);
      if (bad !== null) {
        this.replyError(r, NBD_EINVAL, bad);
        return;
      }
      let data: Uint8Array;
      try {
        data = await this.readPadded(r.offset, r.length);
      } catch (e) {
        const line = `NBD_CMD_READ of ${r.length} bytes at ${r.offset}: ${(e as Error)?.message ?? String(e)}`;
        this.o.log(`${this.peer}${line}`);
        this.replyError(r, NBD_EIO, line);
        return;
      }
      if (!this.neg.structuredReplies) this.send([encodeSimpleReply(r.cookie, 0), data]);
      else if (r.length === 0) this.send([encodeStructuredHeader(r.cookie, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0)]);
      else this.send([encodeOffsetDataHeader(r.cookie, NBD_REPLY_FLAG_DONE, r.offset, data.length), data]);
    } finally {
      this.inFlight--;
      this.inFlightBytes -= r.length;
      this.finishIfIdle();
      this.wake();
    }
  }

  private async readPadded(offset: number, length: number): Promise<Uint8Array> {
    const reader = this.o.export.reader;
    if (offset + length <= reader.size) return reader.read(offset, length);
    const out = new Uint8Array(length);
    if (offset < reader.size) out.set(await reader.read(offset, reader.size - offset));
    return out;
  }

  private replyError(r: Request, error: number, message: string): void {
    this.send([this.neg.structuredReplies ? encodeStructuredError(r.cookie, error, message) : encodeSimpleReply(r.cookie, error)]);
  }
}
