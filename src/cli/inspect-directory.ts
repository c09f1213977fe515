// A directory inspected as the archive `make` would produce from it: the tree is
// encoded (encode-tree) into a small in-memory sink whose bytes go straight into a
// catar decoder, so list/mtree/stat/digest see exactly the archive's records
// without the archive ever existing.  Memory stays at one payload piece.
//
// Digests of byte ranges (the hardlink digest of a node, the digest of a
// directory's subtree) are taken from the stream as it passes: the decoder only
// reports a node after its records went through the sink, so the sink keeps the
// last few record writes (each ENTRY…body group is one write, see encode-tree),
// and a range starting at a reported ENTRY is hashed from those, then from
// everything that follows up to the range's end.

import { createHash, type Hash } from 'node:crypto';
import { CatarDecoder, type CatarEvent } from '../format/catar-decoder.ts';
import { RING_PIECE } from '../engine/ring-writer.ts';
import { linuxFs, linuxFsUnavailable } from '../platform/node/linux/index.ts';
import { encodeTree, type CatarSink } from '../platform/node/tree/encode-tree.ts';
import type { DigestName } from '../digest.ts';

const HISTORY = 4;

/** Thrown through encodeTree to end the walk early. */
class Stop extends Error {}

export class DirectoryStream {
  private readonly decoder: CatarDecoder;
  private readonly buf = new Uint8Array(RING_PIECE);
  private readonly recent: { at: number; bytes: Uint8Array }[] = [];
  private pos = 0;
  private tap: { hash: Hash; from: number; to: number | null; done: number } | null = null;
  private onEvent: (e: CatarEvent) => boolean | void = () => {};

  constructor(
    readonly root: string,
    readonly featureFlags: bigint,
  ) {
    this.decoder = new CatarDecoder(`${root} (archive stream)`, { expectFlags: featureFlags });
  }

  /** Encodes the tree, handing each decoder event to onEvent until it returns true. */
  async run(onEvent: (e: CatarEvent) => boolean | void): Promise<void> {
    this.onEvent = onEvent;
    const linux = linuxFs();
    try {
      await encodeTree({ root: this.root, featureFlags: this.featureFlags, sink: this.sink(), linux, linuxMissing: linux ? null : linuxFsUnavailable() });
      this.decoder.end();
      this.drain();
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
  }

  /** Length of the record write that began at stream offset `at` (an ENTRY or GOODBYE just reported). */
  recordsAt(at: number): number {
    const w = this.recent.find((r) => r.at === at);
    if (!w) throw new Error(`directory stream: no record write at ${at}`);
    return w.bytes.length;
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
    for (const r of kept) this.feedTap(r.at, r.bytes);
  }

  /** Ends the digest at `to` (everything before it has passed) and returns it. */
  hashResult(to: number): Uint8Array {
    const tap = this.tap!;
    tap.to = to;
    if (tap.done !== to) throw new Error(`directory stream: digest range ends at ${to}, ${tap.done} reached`);
    this.tap = null;
    return tap.hash.digest();
  }

  private feedTap(at: number, bytes: Uint8Array) {
    const t = this.tap;
    if (!t) return;
    const from = Math.max(at, t.done);
    const to = Math.min(at + bytes.length, t.to ?? Infinity);
    if (to <= from) return;
    t.hash.update(bytes.subarray(from - at, to - at));
    t.done = to;
  }

  private sink(): CatarSink {
    return {
      write: async (bytes) => {
        // Record writes are small (metadata); keep copies for range digests.
        const copy = bytes.slice();
        this.recent.push({ at: this.pos, bytes: copy });
        if (this.recent.length > HISTORY) this.recent.shift();
        this.pass(copy);
      },
      reserve: async (n) => [this.buf.subarray(0, n)],
      commit: async (n) => this.pass(this.buf.subarray(0, n)),
    };
  }

  /** Bytes at the current stream offset: to the tap and through the decoder. */
  private pass(bytes: Uint8Array) {
    this.feedTap(this.pos, bytes);
    this.pos += bytes.length;
    this.decoder.push(bytes);
    this.drain();
  }

  private drain() {
    for (let e = this.decoder.next(); e; e = this.decoder.next()) {
      if (this.onEvent(e) === true) throw new Stop();
    }
  }
}
