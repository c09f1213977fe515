// Incremental reader of a CA_PROTOCOL stream (layout in ca-protocol.ts): push()
// the bytes as they arrive, in pieces of any size, and take the frames it
// returns.  Every frame is checked as casync's validate_*() functions check it
// before it is handed on: size within [16, 16 MiB] (checked as soon as the
// header is in, so a bogus size never makes the reader wait for or buffer
// megabytes), a known type, the exact or minimum size of its type, only known
// flag bits, whole chunk ids, and an ABORT reason of printable bytes ending in
// NUL.  A violation is a WasyncError naming the stream, the frame and its byte
// offset.  Where a frame may come in a session is ca-protocol-peer.ts's job.

import { formatError } from '../errors.ts';
import { CHUNK_ID_SIZE } from '../format/constants.ts';
import {
  CA_PROTOCOL_ABORT,
  CA_PROTOCOL_ABORT_ERROR_MAX,
  CA_PROTOCOL_ARCHIVE,
  CA_PROTOCOL_ARCHIVE_EOF,
  CA_PROTOCOL_CHUNK,
  CA_PROTOCOL_CHUNK_FLAG_MAX,
  CA_PROTOCOL_GOODBYE,
  CA_PROTOCOL_HEADER_SIZE,
  CA_PROTOCOL_HELLO,
  CA_PROTOCOL_INDEX,
  CA_PROTOCOL_INDEX_EOF,
  CA_PROTOCOL_MISSING,
  CA_PROTOCOL_REQUEST,
  CA_PROTOCOL_REQUEST_FLAG_MAX,
  CA_PROTOCOL_SIZE_MAX,
  CA_PROTOCOL_SIZE_MIN,
  FRAME_NAMES,
} from './ca-protocol.ts';

/** A validated frame; `at` is the stream offset of its header. */
export type CaProtocolFrame = { at: number } & (
  | { kind: 'hello'; flags: bigint }
  | { kind: 'index' | 'archive'; data: Uint8Array }
  | { kind: 'index-eof' | 'archive-eof' | 'goodbye' }
  | { kind: 'request'; highPriority: boolean; ids: Uint8Array }
  | { kind: 'chunk'; compressed: boolean; id: Uint8Array; data: Uint8Array }
  | { kind: 'missing'; id: Uint8Array }
  | { kind: 'abort'; error: number; reason: string }
);

export type FrameKind = CaProtocolFrame['kind'];

export class FrameParser {
  private pieces: Uint8Array[] = [];
  private buffered = 0;
  /** stream offset of the first buffered byte */
  private consumed = 0;
  /** size of the frame whose header is in, or 0 */
  private need = 0;

  /** `name` says whose stream this is in messages, e.g. "ssh host (casync pull)". */
  constructor(readonly name: string) {}

  /** Bytes taken so far, i.e. the offset just after the last complete frame plus what is buffered. */
  get offset(): number {
    return this.consumed + this.buffered;
  }

  /**
   * The frames completed by `bytes`.  Data fields may be views of the pushed
   * bytes: the caller must not reuse those buffers while it holds the frames.
   */
  push(bytes: Uint8Array): CaProtocolFrame[] {
    if (bytes.length) {
      this.pieces.push(bytes);
      this.buffered += bytes.length;
    }
    const out: CaProtocolFrame[] = [];
    for (;;) {
      if (!this.need) {
        if (this.buffered < CA_PROTOCOL_HEADER_SIZE) break;
        this.need = this.headerSize(this.peek(CA_PROTOCOL_HEADER_SIZE));
      }
      if (this.buffered < this.need) break;
      const at = this.consumed;
      const f = this.take(this.need);
      this.need = 0;
      out.push(this.decode(f, at));
    }
    return out;
  }

  /** At the end of the stream: refuses a frame cut short. */
  end(): void {
    if (this.buffered) {
      const what = this.need ? `a frame of ${this.need} bytes` : 'a frame header';
      throw formatError(this.name, this.consumed, `the stream ends inside ${what} (${this.buffered} bytes of it arrived)`);
    }
  }

  private headerSize(h: Uint8Array): number {
    const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const size = v.getBigUint64(0, true);
    const type = v.getBigUint64(8, true);
    const name = FRAME_NAMES.get(type) ?? `frame of unknown type 0x${type.toString(16).padStart(16, '0')}`;
    if (size < BigInt(CA_PROTOCOL_SIZE_MIN)) {
      throw formatError(this.name, this.consumed, `${name}: size ${size} is below the minimum of ${CA_PROTOCOL_SIZE_MIN}`);
    }
    if (size > BigInt(CA_PROTOCOL_SIZE_MAX)) {
      throw formatError(this.name, this.consumed, `${name}: size ${size} exceeds the maximum of ${CA_PROTOCOL_SIZE_MAX}`);
    }
    if (!FRAME_NAMES.has(type)) throw formatError(this.name, this.consumed, `${name} (size ${size})`);
    return Number(size);
  }

  private decode(f: Uint8Array, at: number): CaProtocolFrame {
    const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
    const type = v.getBigUint64(8, true);
    const size = f.length;
    const name = FRAME_NAMES.get(type)!;
    const bad = (why: string) => formatError(this.name, at, `${name} frame of ${size} bytes: ${why}`);
    const exactly = (n: number) => {
      if (size !== n) throw bad(`it must be exactly ${n} bytes`);
    };
    const atLeast = (n: number, what: string) => {
      if (size < n) throw bad(`${what} (at least ${n} bytes)`);
    };
    switch (type) {
      case CA_PROTOCOL_HELLO: {
        exactly(24);
        const flags = v.getBigUint64(16, true);
        if (flags === 0n) throw bad('feature flags 0: the peer offers and wants nothing');
        if (flags === 0xffffffffffffffffn) throw bad('feature flags are all ones');
        return { at, kind: 'hello', flags };
      }
      case CA_PROTOCOL_INDEX:
      case CA_PROTOCOL_ARCHIVE:
        atLeast(CA_PROTOCOL_HEADER_SIZE + 1, 'it carries no data');
        return { at, kind: type === CA_PROTOCOL_INDEX ? 'index' : 'archive', data: f.subarray(16) };
      case CA_PROTOCOL_INDEX_EOF:
        exactly(16);
        return { at, kind: 'index-eof' };
      case CA_PROTOCOL_ARCHIVE_EOF:
        exactly(16);
        return { at, kind: 'archive-eof' };
      case CA_PROTOCOL_GOODBYE:
        exactly(16);
        return { at, kind: 'goodbye' };
      case CA_PROTOCOL_REQUEST: {
        atLeast(24 + CHUNK_ID_SIZE, 'it names no chunk');
        if ((size - 24) % CHUNK_ID_SIZE) throw bad(`${size - 24} bytes of ids are not whole ${CHUNK_ID_SIZE}-byte chunk ids`);
        const flags = v.getBigUint64(16, true);
        if (flags & ~CA_PROTOCOL_REQUEST_FLAG_MAX) throw bad(`unknown flags 0x${flags.toString(16)}`);
        return { at, kind: 'request', highPriority: flags !== 0n, ids: f.subarray(24) };
      }
      case CA_PROTOCOL_CHUNK: {
        atLeast(24 + CHUNK_ID_SIZE + 1, 'it carries no chunk data');
        const flags = v.getBigUint64(16, true);
        if (flags & ~CA_PROTOCOL_CHUNK_FLAG_MAX) throw bad(`unknown flags 0x${flags.toString(16)}`);
        return { at, kind: 'chunk', compressed: flags !== 0n, id: f.subarray(24, 24 + CHUNK_ID_SIZE), data: f.subarray(24 + CHUNK_ID_SIZE) };
      }
      case CA_PROTOCOL_MISSING:
        exactly(16 + CHUNK_ID_SIZE);
        return { at, kind: 'missing', id: f.subarray(16) };
      case CA_PROTOCOL_ABORT: {
        atLeast(25, 'it has no reason');
        const error = v.getBigUint64(16, true);
        if (error >= BigInt(CA_PROTOCOL_ABORT_ERROR_MAX)) throw bad(`error code ${error} is out of range`);
        const reason = f.subarray(24);
        if (reason[reason.length - 1] !== 0) throw bad('the reason does not end in NUL');
        const ctl = reason.subarray(0, reason.length - 1).findIndex((b) => b < 0x20);
        if (ctl >= 0) throw bad(`the reason holds control byte 0x${reason[ctl].toString(16).padStart(2, '0')} at ${24 + ctl}`);
        return { at, kind: 'abort', error: Number(error), reason: new TextDecoder().decode(reason.subarray(0, reason.length - 1)) };
      }
    }
    throw bad('unknown type'); // headerSize() let only known types through
  }

  /** The first n buffered bytes without consuming them. */
  private peek(n: number): Uint8Array {
    if (this.pieces[0].length >= n) return this.pieces[0].subarray(0, n);
    return this.gather(n, false);
  }

  /** Consumes the first n buffered bytes: a view when one piece holds them all, else a copy. */
  private take(n: number): Uint8Array {
    const first = this.pieces[0];
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pieces.shift();
      else this.pieces[0] = first.subarray(n);
    } else {
      out = this.gather(n, true);
    }
    this.buffered -= n;
    this.consumed += n;
    return out;
  }

  private gather(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    let i = 0;
    while (o < n) {
      const p = this.pieces[i];
      const k = Math.min(p.length, n - o);
      out.set(p.subarray(0, k), o);
      o += k;
      if (!consume) i++;
      else if (k === p.length) this.pieces.shift();
      else this.pieces[0] = p.subarray(k);
    }
    return out;
  }
}
