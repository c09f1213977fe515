// A directory inspected as the archive `make` would produce from it: the tree is
// encoded (encode-tree) into a small in-memory sink whose bytes go straight into a
// catar decoder, so list/mtree/stat/digest see exactly the archive's records
// without the archive ever existing.  Memory stays at one payload piece.
//
// Digests of byte ranges (the hardlink digest of a node, the digest of a
// directory's subtree) are taken from the stream as it passes: the decoder only
// reports a node after its records went through the sink, so the sink keeps the
// last few record writes (a node's records never span two writes, see
// encode-tree), and a range starting at a reported ENTRY is hashed from those,
// then from everything that follows up to the range's end.

import { createHash, type Hash } from 'node:crypto';
import { CatarDecoder, type CatarEvent } from '../../../format/catar-decoder.ts';
import {
  CA_FORMAT_DEVICE,
  CA_FORMAT_FILENAME,
  CA_FORMAT_GOODBYE,
  CA_FORMAT_PAYLOAD,
  CA_FORMAT_SYMLINK,
} from '../../../format/catar-constants.ts';
import { RING_PIECE } from '../pool/ring-writer.ts';
import { linuxFs, linuxFsUnavailable } from '../linux/index.ts';
import { encodeTree, type CatarSink } from '../tree/encode-tree.ts';
import type { EventAnswer } from './inspect-source.ts';
import type { DigestName } from '../../../chunk/digest.ts';

const HISTORY = 4;

/** Thrown through encodeTree to end the walk early. */
class Stop extends Error {}

export class DirectoryStream {
  private readonly decoder: CatarDecoder;
  private readonly buf = new Uint8Array(RING_PIECE);
  private readonly recent: { at: number; bytes: Uint8Array }[] = [];
  private pos = 0;
  private unfed: { at: number; bytes: Uint8Array } | null = null;
  private tap: { hash: Hash; from: number; to: number | null; done: number } | null = null;
  private onEvent: (e: CatarEvent) => EventAnswer = () => {};

  constructor(
    readonly root: string,
    readonly featureFlags: bigint,
  ) {
    this.decoder = new CatarDecoder(`${root} (archive stream)`, { expectFlags: featureFlags });
  }

  /**
   * Encodes the tree, handing each decoder event to onEvent until it returns
   * true; a promise it returns holds the encoder back until it settles.
   */
  async run(onEvent: (e: CatarEvent) => EventAnswer): Promise<void> {
    this.onEvent = onEvent;
    const linux = linuxFs();
    try {
      await encodeTree({ root: this.root, featureFlags: this.featureFlags, sink: this.sink(), linux, linuxMissing: linux ? null : linuxFsUnavailable() });
      this.decoder.end();
      await this.drain();
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
  }

  /**
   * Bytes of the records at stream offset `at`, an ENTRY or GOODBYE just
   * reported: a GOODBYE record; or a node's records from its ENTRY through its
   * PAYLOAD header or SYMLINK/DEVICE body (the hardlink digest's range).
   */
  recordsAt(at: number): number {
    const w = this.recent.find((r) => r.at <= at && at < r.at + r.bytes.length);
    if (!w) throw new Error(`directory stream: no records at ${at}`);
    const v = new DataView(w.bytes.buffer, w.bytes.byteOffset, w.bytes.byteLength);
    let o = at - w.at;
    const start = o;
    while (o + 16 <= w.bytes.length) {
      const size = Number(v.getBigUint64(o, true));
      const type = v.getBigUint64(o + 8, true);
      if (type === CA_FORMAT_GOODBYE) return o === start ? size : o - start;
      if (type === CA_FORMAT_FILENAME) return o - start;
      if (type === CA_FORMAT_PAYLOAD) return o + 16 - start;
      o += size;
      if (type === CA_FORMAT_SYMLINK || type === CA_FORMAT_DEVICE) return o - start;
    }
    return o - start; // a FIFO or socket at the end of its write
  }

  /** Starts digesting the stream at `from` (a node just reported), up to `to` if known. */
  hashFrom(from: number, alg: DigestName, to: number | null = null): void {
    const tap = { hash: createHash(alg), from, to, done: from };
    const first = this.recent.findIndex((r) => r.at <= from && from < r.at + r.bytes.length);
    const kept = first < 0 ? [] : this.recent.slice(first);
    // Payload pieces are not kept: the writes from `from` on must reach the present.
    const contiguous = kept.every((r, i) => (i + 1 < kept.length ? kept[i + 1].at : this.pos) === r.at + r.bytes.length);
    if (!kept.length || !contiguous) throw new Error(`directory stream: offset ${from} is no longer at hand`);
    this.tap = tap;
    // The write being decoded now reaches the tap later, when the range's end is known.
    for (const r of kept) if (r.bytes !== this.unfed?.bytes) this.feedTap(r.at, r.bytes);
  }

  /** Ends the digest at `to` (everything before it has passed) and returns it. */
  hashResult(to: number): Uint8Array {
    const tap = this.tap!;
    tap.to = to;
    if (this.unfed) this.feedTap(this.unfed.at, this.unfed.bytes);
    if (tap.done !== to) throw new Error(`directory stream: digest range ends at ${to}, ${tap.done} reached`);
    this.tap = null;
    return tap.hash.digest();
  }

  private feedTap(at: number, bytes: Uint8Array) {
    const t = this.tap;
    if (!t) return;
    if (at > t.done) throw new Error(`directory stream: bytes ${t.done}..${at} skipped the digest`);
    const from = Math.max(at, t.done);
    const to = Math.min(at + bytes.length, t.to ?? Infinity);
    if (to <= from) return;
    t.hash.update(bytes.subarray(from - at, to - at));
    t.done = to;
  }

  private sink(): CatarSink {
    return {
      write: async (bytes) => {
        // Record writes are small (metadata); keep copies for range digests (a
        // Buffer's slice() would be a view of the writer's reused buffer).
        const copy = Uint8Array.prototype.slice.call(bytes);
        this.recent.push({ at: this.pos, bytes: copy });
        if (this.recent.length > HISTORY) this.recent.shift();
        await this.pass(copy, true);
      },
      reserve: async (n) => [this.buf.subarray(0, n)],
      commit: async (n) => this.pass(this.buf.subarray(0, n), false),
    };
  }

  /**
   * Bytes at the current stream offset: to the tap and through the decoder.  A
   * record write reaches the tap only once the decoder has seen it: it may hold
   * the GOODBYE that ends the range being digested and records beyond it.
   */
  private pass(bytes: Uint8Array, records: boolean): Promise<void> | void {
    if (this.unfed) this.feedTap(this.unfed.at, this.unfed.bytes);
    this.unfed = null;
    if (records) this.unfed = { at: this.pos, bytes };
    else this.feedTap(this.pos, bytes);
    this.pos += bytes.length;
    this.decoder.push(bytes);
    return this.drain();
  }

  private drain(): Promise<void> | void {
    for (let e = this.decoder.next(); e; e = this.decoder.next()) {
      const answer = this.onEvent(e);
      if (answer instanceof Promise) return answer.then((a) => (a === true ? Promise.reject(new Stop()) : this.drain()));
      if (answer === true) throw new Stop();
    }
  }
}
