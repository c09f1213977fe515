// --reflink for blobs, in the fetch job: chunks that come from a seed file at
// consecutive offsets form a run, and a run's whole blocks are cloned from the
// seed (FICLONERANGE) instead of written, as casync does after writing.  A
// chunk joins the run once it has been checked against its id; the run is
// cloned in one call when it ends (one extent, not one per chunk).  Should the
// seed refuse then, the range is copied from it instead: cloning takes the
// seed's bytes as they are at that moment too, so a copy is no less checked.
//
// casync's rules (reflink.c): seed and output must be regular files, a run's
// offsets must be alike modulo 4096 in both files, its start is rounded up to
// a block and its end down, unless it reaches the end of both files, where
// the last partial block is cloned too.  The bytes of a run outside those
// blocks are written; a seed that refuses (ext4, another file system) is not
// tried again.
//
// Batches go to different threads, so a run may cross from one job to the
// next: each job clones the blocks wholly inside its part and reports the runs
// at its two ends (head, tail); the block across the seam is cloned by
// stitchSeam() once both jobs have written it.

import { S_IFMT, S_IFREG } from '../../../format/catar-node.ts';
import type { LinuxFs } from '../linux/index.ts';
import { readFully, writeFully } from '../io/file-io.ts';
import type { FileRef } from './jobs.ts';

/** casync's FS_BLOCK_SIZE: what clones are aligned to */
export const CLONE_BLOCK = 4096;
const COPY_PIECE = 1 << 20;

/** Consecutive chunks of the output that a seed holds at consecutive offsets. */
export interface SeedRun {
  seed: number;
  /** output offsets */
  start: number;
  end: number;
  /** seed offset minus output offset */
  delta: number;
}

export interface CloneReport {
  bytes: number;
  /** seeds that could not clone into the output */
  refused: number[];
  /** the run the job's first chunk is part of, and its last chunk's */
  head: SeedRun | null;
  tail: SeedRun | null;
}

const down = (x: number) => Math.floor(x / CLONE_BLOCK) * CLONE_BLOCK;
const up = (x: number) => Math.ceil(x / CLONE_BLOCK) * CLONE_BLOCK;

export class SeedCloner {
  private run: (SeedRun & { clones: boolean; head: boolean }) | null = null;
  /** output bytes before this are written, or in [cloneFrom, cloneTo) */
  private settled = 0;
  /** the blocks of the run to clone when it ends */
  private cloneFrom = 0;
  private cloneTo = 0;
  /** bytes [settled, run.end) when cloning: less than a block, kept until it is known whether they are cloned */
  private readonly pending = Buffer.allocUnsafe(2 * CLONE_BLOCK);
  private pendingLen = 0;
  private seen = false;
  private readonly sizes = new Map<number, number | null>();
  private readonly report: CloneReport = { bytes: 0, refused: [], head: null, tail: null };
  /** per seed number: whether to try */
  private readonly tryable: boolean[];

  constructor(
    private readonly linux: LinuxFs,
    private readonly out: FileRef,
    private readonly seeds: readonly FileRef[],
    tryable: readonly boolean[],
    /** where the output ends, when this job holds its last chunk */
    private readonly outEnd: number,
  ) {
    this.tryable = isFile(linux, out.fd) ? [...tryable] : [];
  }

  /** A chunk from seed `seed` at `seedOffset`, checked; it is cloned or written here. */
  seedChunk(data: Uint8Array, offset: number, seed: number, seedOffset: number): void {
    const first = !this.seen;
    this.seen = true;
    const end = offset + data.length;
    let run = this.run;
    if (run && (run.seed !== seed || run.end !== offset || run.delta !== seedOffset - offset)) this.endRun();
    run = this.run;
    if (!run) {
      const delta = seedOffset - offset;
      run = this.run = { seed, start: offset, end: offset, delta, clones: delta % CLONE_BLOCK === 0 && this.cloneable(seed), head: first };
      this.settled = offset;
      this.cloneFrom = this.cloneTo = up(offset);
      this.pendingLen = 0;
    }
    run.end = end;
    if (!run.clones) {
      this.emit(data, offset, end);
      return;
    }
    const seedEnd = this.sizeOf(seed);
    const toEof = end >= this.outEnd && seedEnd !== null && seedOffset + data.length >= seedEnd;
    const to = toEof ? end : down(end);
    // Bytes before the run's first whole block are never cloned.
    this.emit(data, offset, Math.min(this.cloneFrom, end));
    if (to > this.cloneTo) {
      // What was kept lies below `to`: it goes with the clone.
      this.cloneTo = this.settled = to;
      this.pendingLen = 0;
    }
    this.keep(data, offset, end);
  }

  /** Any other chunk (from a store, a hole): it ends the run. */
  other(): void {
    this.seen = true;
    this.endRun();
  }

  finish(): CloneReport {
    if (this.run) this.report.tail = runOf(this.run);
    this.endRun();
    return this.report;
  }

  private endRun() {
    const run = this.run;
    if (!run) return;
    if (this.cloneTo > this.cloneFrom) this.clone(run);
    if (this.pendingLen) writeFully(this.out, this.pending.subarray(0, this.pendingLen), this.settled);
    this.pendingLen = 0;
    if (run.head) this.report.head = runOf(run);
    this.run = null;
  }

  private clone(run: SeedRun) {
    const seed = this.seeds[run.seed];
    const [from, to] = [this.cloneFrom, this.cloneTo];
    if (this.linux.cloneRange(seed.fd, from + run.delta, to - from, this.out.fd, from)) {
      this.report.bytes += to - from;
      return;
    }
    this.refuse(run.seed);
    const buf = Buffer.allocUnsafe(Math.min(COPY_PIECE, to - from));
    for (let at = from; at < to; at += buf.length) {
      const n = Math.min(buf.length, to - at);
      readFully(seed, buf, 0, n, at + run.delta);
      writeFully(this.out, buf.subarray(0, n), at);
    }
  }

  /** Writes bytes [settled, to) of the run (the pending ones, then the chunk's own). */
  private emit(data: Uint8Array, offset: number, to: number) {
    if (to <= this.settled) return;
    if (this.pendingLen) {
      writeFully(this.out, this.pending.subarray(0, this.pendingLen), this.settled);
      this.settled += this.pendingLen;
      this.pendingLen = 0;
    }
    if (to > this.settled) writeFully(this.out, data.subarray(this.settled - offset, to - offset), this.settled);
    this.settled = to;
  }

  /** Keeps bytes [settled, end) for later: cloned with the next chunk of the run, or written when it ends. */
  private keep(data: Uint8Array, offset: number, end: number) {
    const from = Math.max(this.settled + this.pendingLen, offset);
    const n = end - from;
    if (n <= 0) return;
    if (this.pendingLen + n > this.pending.length) {
      this.emit(data, offset, end); // cannot happen (less than a block stays), but never lose bytes
      return;
    }
    this.pending.set(data.subarray(from - offset, end - offset), this.pendingLen);
    this.pendingLen += n;
  }

  private cloneable(seed: number): boolean {
    return !!this.tryable[seed] && this.sizeOf(seed) !== null;
  }

  /** A regular seed file's size; null for anything else (an ioctl on a device means something else). */
  private sizeOf(seed: number): number | null {
    let size = this.sizes.get(seed);
    if (size === undefined) {
      const f = this.seeds[seed];
      const st = f ? this.linux.statFd(f.fd) : null;
      size = st && (st.mode & S_IFMT) === S_IFREG ? st.size : null;
      this.sizes.set(seed, size);
    }
    return size;
  }

  private refuse(seed: number) {
    if (!this.report.refused.includes(seed)) this.report.refused.push(seed);
    this.tryable[seed] = false;
  }
}

/** Through the adapter: Deno's node:fs refuses descriptors another thread opened. */
export const isFile = (linux: LinuxFs, fd: number) => (linux.statFd(fd).mode & S_IFMT) === S_IFREG;

const runOf = (r: SeedRun): SeedRun => ({ seed: r.seed, start: r.start, end: r.end, delta: r.delta });

/**
 * After the jobs on both sides of a seam are written: clones the block across
 * it if the run goes on over it.  `before` is the run ending at the seam (its
 * start as far back as the run goes), `after` the next job's head run.
 * Returns the bytes cloned, or -1 if the seed refused.
 */
export function stitchSeam(linux: LinuxFs, out: FileRef, seed: FileRef, before: SeedRun, after: SeedRun): number {
  const seam = after.start;
  if (before.seed !== after.seed || before.end !== seam || before.delta !== after.delta || before.delta % CLONE_BLOCK) return 0;
  const a = down(seam);
  const b = up(seam);
  if (a === b || before.start > a || after.end < b) return 0;
  if (!isFile(linux, seed.fd) || !isFile(linux, out.fd)) return 0;
  return linux.cloneRange(seed.fd, a + before.delta, b - a, out.fd, a) ? b - a : -1;
}
