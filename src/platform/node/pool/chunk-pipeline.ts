// The make pipeline: chunks one input stream, digests it and stores its chunks.
//
//   scan jobs (segments of the stream, any thread, any order)
//     → CutResolver (here, in stream order) → batches of whole chunks
//     → chunk jobs (digest, and compress + store when a store is given)
//     → onChunks(ends, ids) in stream order
//   digest jobs (the same segments, in order, on one thread) → whole-stream digest
//
// The input is a file (all of it available at once) or a ring buffer a producer
// fills (a catar stream being encoded): advance() says how far the stream is
// written, release() waits until the jobs no longer need the bytes below a
// position so the producer can reuse that space, finish() ends the stream.  A
// bounded number of jobs is in flight, so memory does not grow with the input.
// Over a ring, segments and batches are smaller and each queue may hold at most
// a quarter of the ring, so the producer is never stalled by work still queued.

import { CutResolver } from '../../../chunker/cut-resolver.ts';
import { BUZHASH_WINDOW, discriminator, type ChunkSizes } from '../../../chunker/sizes.ts';
import type { Compression } from '../../../chunk/compression.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { SCAN_SEGMENT, inputRef, type ChunkResult, type Executor, type InputRef, type ScanResult } from './jobs.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';

/** Input bytes per scan and chunk job, for files and for rings. */
const FILE_SEGMENT = SCAN_SEGMENT;
const FILE_BATCH = 4 << 20;
const RING_SEGMENT = 1 << 20;
const RING_BATCH = 1 << 20;

export interface ChunkPipelineOptions {
  input: InputRef;
  sizes: ChunkSizes;
  digest: DigestName;
  /** Where new chunks go; null to only compute ids (seeds). */
  store: StoreGraph | null;
  compression: Compression;
  executor: Executor;
  /** Runs the whole-stream digest (jobs in order, one thread); none: no digest. */
  digestExecutor?: Executor;
  /**
   * Runs the scan jobs instead of `executor`.  The digest executor itself, for
   * a file: each segment's scan job goes just before its digest job, so that
   * the one runner reads the segment once for both (job-runner.ts).
   */
  scanExecutor?: Executor;
  /** false: only digest the stream (a .catar being written), no chunks. */
  chunk?: boolean;
  /** Called in stream order with each batch's chunk end offsets and ids. */
  onChunks(ends: number[], result: ChunkResult): void | Promise<void>;
  /** progress-counter.ts: the bytes of chunks done, bumped by the jobs as they go */
  progress?: SharedArrayBuffer;
}

export interface ChunkTotals {
  chunks: number;
  stored: number;
  storedBytes: number;
  /** The whole-stream digest, when a digest executor was given. */
  digest: Uint8Array | null;
}

interface Pending<T> {
  start: number;
  end: number;
  result: Promise<T>;
  done: boolean;
}

export class ChunkPipeline {
  private readonly input: InputRef;
  private readonly resolver: CutResolver;
  private readonly d: number;
  private readonly depth: number;
  private readonly segment: number;
  private readonly batch: number;
  /** Most stream bytes each queue (scans, batches) may hold. */
  private readonly window: number;
  private readonly scans: Pending<ScanResult>[] = [];
  private readonly batches: (Pending<ChunkResult> & { ends: number[] })[] = [];
  private readonly digests: Pending<unknown>[] = [];
  private readonly totals: ChunkTotals = { chunks: 0, stored: 0, storedBytes: 0, digest: null };
  private available = 0;
  /** Resolves when any job finishes (then replaced). */
  private tick!: Promise<void>;
  private fire!: () => void;
  private scanned = 0;
  private cuts: number[] = [];
  private batchStart = 0;

  constructor(private readonly o: ChunkPipelineOptions) {
    this.input = inputRef(o.input);
    this.resolver = new CutResolver(o.sizes);
    this.d = discriminator(o.sizes);
    this.depth = 4 * o.executor.parallelism;
    const ring = 'ring' in this.input ? this.input.ring.byteLength : 0;
    this.segment = ring ? RING_SEGMENT : FILE_SEGMENT;
    this.batch = ring ? RING_BATCH : FILE_BATCH;
    this.window = ring ? ring / 4 : Infinity;
    this.rearm();
  }

  private rearm() {
    this.tick = new Promise((resolve) => (this.fire = resolve));
  }

  /**
   * The stream is written up to `end`: hand out the work that became possible.
   * Returns a promise only when a finished job is to be collected (advance()
   * and release() run a few times per file of a tree: most find nothing done).
   */
  advance(end: number): Promise<void> | void {
    this.available = end;
    if (this.headsDone()) return this.collect();
    this.dispatchSegments(false);
  }

  /**
   * Waits until no job needs stream bytes below `pos`.  While waiting, every
   * finished job is collected at once and new work handed out, so no thread
   * idles behind the one job that holds `pos`.  Returns a promise only when it
   * has to wait.
   */
  release(pos: number): Promise<void> | void {
    if (!this.headsDone()) {
      this.dispatchSegments(false);
      if (this.low() >= pos) return;
    }
    return this.waitFor(pos);
  }

  private async waitFor(pos: number): Promise<void> {
    for (;;) {
      const tick = this.tick;
      await this.collect();
      if (this.low() >= pos) return;
      if (this.scans.length || this.batches.length || this.digests.length) await tick;
      else await this.unblock();
    }
  }

  /** Ends the stream at `total` bytes and waits for every chunk. */
  async finish(total: number): Promise<ChunkTotals> {
    this.available = total;
    this.dispatchSegments(true);
    while (this.scans.length) {
      await this.completeScan(false);
      this.dispatchSegments(true);
    }
    if (this.o.chunk !== false) this.addCuts(this.resolver.finish(total));
    await this.dispatchBatches(true);
    while (this.batches.length) await this.completeBatch();
    if (this.o.digestExecutor) {
      await Promise.all(this.digests.map((x) => x.result));
      this.totals.digest = await this.digestJob(total, total, true);
    }
    return this.totals;
  }

  /** The lowest stream offset jobs may still read. */
  private low(): number {
    let low = this.o.chunk === false ? this.scanned : (this.batches.length ? this.batches[0].start : this.batchStart);
    if (this.scans.length) low = Math.min(low, this.scans[0].start - (BUZHASH_WINDOW - 1));
    if (this.digests.length) low = Math.min(low, this.digests[0].start);
    return Math.max(0, low);
  }

  private headsDone(): boolean {
    return headDone(this.digests) || headDone(this.scans) || headDone(this.batches);
  }

  /** Collects the finished jobs at the heads of the queues and hands out new ones. */
  private async collect() {
    for (;;) {
      while (headDone(this.digests)) await this.digests.shift()!.result; // rethrows a failure
      if (headDone(this.scans)) await this.completeScan(false);
      else if (headDone(this.batches)) await this.completeBatch();
      else break;
    }
    this.dispatchSegments(false);
  }

  /** Nothing in flight holds the low mark: what does is input not yet handed out. */
  private async unblock() {
    if (this.cuts.length) await this.dispatchBatches(true);
    else if (this.scanned < this.available) this.dispatchSegments(true);
    else throw new Error('chunk pipeline: the ring buffer is smaller than a chunk');
  }

  private dispatchSegments(final: boolean) {
    while (this.scans.length < this.depth && this.scanned < this.available && this.queued(this.scans) < this.window) {
      const start = this.scanned;
      const end = Math.min(this.available, start + this.segment);
      if (!final && end - start < this.segment) break;
      if (this.o.chunk === false) {
        // only the digest reads this segment
      } else if (this.resolver.needsCandidates) {
        const job = { kind: 'scan', input: this.input, start, end, d: this.d } as const;
        this.track(this.scans, start, end, (this.o.scanExecutor ?? this.o.executor).run<ScanResult>(job));
      } else {
        this.addCuts(this.resolver.push([], 0, end));
      }
      if (this.o.digestExecutor) this.track(this.digests, start, end, this.digestJob(start, end, false));
      this.scanned = end;
    }
    // Digests finished in order need no waiting later.
    while (headDone(this.digests)) this.digests.shift();
  }

  private async completeScan(flush: boolean) {
    const s = this.scans.shift()!;
    const r = await s.result;
    this.addCuts(this.resolver.push(r.candidates, r.base, s.end));
    await this.dispatchBatches(flush);
  }

  private async completeBatch() {
    const b = this.batches.shift()!;
    const r = await b.result;
    this.totals.chunks += b.ends.length;
    this.totals.stored += r.stored;
    this.totals.storedBytes += r.storedBytes;
    await this.o.onChunks(b.ends, r);
  }

  /** Stream bytes the jobs of a queue cover. */
  private queued(queue: Pending<unknown>[]): number {
    return queue.length ? queue[queue.length - 1].end - queue[0].start : 0;
  }

  /** Hands out batches of about `batch` bytes of resolved chunks (all of them if `all`). */
  private async dispatchBatches(all: boolean) {
    let from = 0;
    while (from < this.cuts.length) {
      let to = from;
      while (to < this.cuts.length && this.cuts[to] - this.batchStart < this.batch) to++;
      if (to === this.cuts.length && !all) break;
      if (to === from) to++; // one chunk larger than a batch
      const ends = this.cuts.slice(from, to);
      const chunks = new Float64Array(2 * ends.length);
      let start = this.batchStart;
      ends.forEach((end, i) => {
        chunks[2 * i] = start;
        chunks[2 * i + 1] = end - start;
        start = end;
      });
      const { digest, store, compression, progress } = this.o;
      const job = { kind: 'chunks', input: this.input, chunks, digest, store, compression, progress } as const;
      const batch = Object.assign(this.pending(this.batchStart, start, this.o.executor.run<ChunkResult>(job)), { ends });
      this.batches.push(batch);
      this.batchStart = start;
      from = to;
      while (this.batches.length > this.depth || this.queued(this.batches) > this.window) await this.completeBatch();
    }
    this.cuts = this.cuts.slice(from);
  }

  private addCuts(more: number[]) {
    for (const c of more) this.cuts.push(c);
  }

  private digestJob(start: number, end: number, final: boolean) {
    return handled(
      this.o.digestExecutor!.run<Uint8Array>({ kind: 'digest', input: this.input, start, end, digest: this.o.digest, final }),
    );
  }

  private track<T>(queue: Pending<T>[], start: number, end: number, result: Promise<T>) {
    queue.push(this.pending(start, end, result));
  }

  private pending<T>(start: number, end: number, result: Promise<T>): Pending<T> {
    const p: Pending<T> = { start, end, result: handled(result), done: false };
    const done = () => {
      p.done = true;
      const fire = this.fire;
      this.rearm();
      fire();
    };
    p.result.then(done, done);
    return p;
  }
}

/**
 * Whether the oldest job of a queue is done.  (Not `queue[0]?.done`: reading
 * past the end of an empty array threw the pipeline's optimized code away.)
 */
const headDone = (queue: Pending<unknown>[]) => queue.length > 0 && queue[0].done;

/**
 * Marks a job's promise as handled, so that a failure while an earlier job is
 * being awaited is not reported as an unhandled rejection; the caller still
 * awaits it and sees the error.
 */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Chunks a whole file (or device) that is available at once. */
export async function chunkFile(o: ChunkPipelineOptions & { size: number }): Promise<ChunkTotals> {
  const pipeline = new ChunkPipeline(o);
  await pipeline.advance(o.size);
  return pipeline.finish(o.size);
}
