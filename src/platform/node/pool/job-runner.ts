// Runs chunk-engine jobs (jobs.ts) on Node.  One JobRunner per thread keeps a
// read buffer, the wasm scanner, codec contexts and the stores its jobs name
// (built once per StoreGraph) across jobs, so jobs run one at a time; only a
// fetch job's reads from remote stores start at once (FetchRunner.prefetch),
// ahead of its turn.

import { createHash, type Hash } from 'node:crypto';
import { WasyncError } from '../../../errors.ts';
import { CandidateScanner } from '../../../chunker/scanner.ts';
import { BUZHASH_WINDOW } from '../../../chunker/sizes.ts';
import { CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { toHex } from '../../../chunk/chunk-id.ts';
import {
  SCAN_SEGMENT,
  type ChunkJob,
  type ChunkResult,
  type DigestJob,
  type InputRef,
  type Job,
  type ScanJob,
  type ScanResult,
  type FilesJob,
  type FilesResult,
  type RecipeChunksJob,
} from './jobs.ts';
import { assembleRecipes, scanFiles } from './cached-make-jobs.ts';
import { linuxFs, linuxFsUnavailable } from '../linux/index.ts';
import { FileWriter } from '../tree/file-writer.ts';
import { unpackFiles } from './file-batch.ts';
import { MetadataApplier } from '../tree/apply-metadata.ts';
import { Remover } from '../tree/remove-tree.ts';
import { NodeChunks } from '../storage/node-check.ts';
import { BuiltGraphs } from '../storage/node-stores.ts';
import { FetchRunner } from './fetch-job.ts';
import { readInput } from '../io/file-io.ts';
import { runVerify } from './verify-job.ts';
import { JobTally } from './progress-counter.ts';

export interface JobOutput {
  result: unknown;
  transfer: ArrayBuffer[];
}

export class JobRunner {
  private scanner: CandidateScanner | undefined;
  private readonly chunks = new NodeChunks();
  private readonly graphs = new BuiltGraphs();
  /** what the stores warned of (a corrupt copy replaced), handed out with the next fetch result */
  private readonly warnings: string[] = [];
  private readonly fetcher = new FetchRunner(this.chunks, (graph, digest) =>
    this.graphs.source(graph, { check: this.chunks.check(digest), onWarning: (m) => this.warnings.push(m) }),
  );
  private buf = Buffer.alloc(0);
  private running: Hash | undefined;
  /** What the scanner's window holds since the last scan job: input[base, base + len). */
  private windowHolds: { input: InputRef; base: number; len: number; shift: number } | null = null;
  private turn: Promise<unknown> = Promise.resolve();

  /**
   * `yielding`: each job waits for a turn of the event loop first, so that a
   * thread with other work (a caller sharing the jobs: worker-pool.ts
   * SharedPool) gets to it between two jobs.
   */
  constructor(private readonly yielding = false) {}

  run(job: Job): Promise<JobOutput> {
    const early = job.kind === 'fetch' ? this.fetcher.prefetch(job) : null;
    const p = this.turn.then(() => (this.yielding ? new Promise<void>((r) => setImmediate(r)) : undefined)).then(() => this.runNow(job, early));
    this.turn = p.catch(() => undefined);
    return p;
  }

  private async runNow(job: Job, early: ReturnType<FetchRunner['prefetch']> | null): Promise<JobOutput> {
    switch (job.kind) {
      case 'scan': {
        const r = this.scan(job);
        return { result: r, transfer: [r.candidates.buffer as ArrayBuffer] };
      }
      case 'chunks': {
        const r = await this.chunkBatch(job);
        return { result: r, transfer: [r.ids.buffer as ArrayBuffer] };
      }
      case 'digest':
        return { result: this.digestRange(job), transfer: [] };
      case 'scan-files': {
        this.scanner ??= new CandidateScanner(SCAN_SEGMENT);
        this.windowHolds = null;
        const r = scanFiles(job, this.scanner);
        return { result: r, transfer: [r.counts.buffer, r.candidates.buffer, r.edges.buffer, r.contents.buffer] as ArrayBuffer[] };
      }
      case 'recipe-chunks': {
        const r = await this.recipeBatch(job);
        return { result: r, transfer: [r.ids.buffer as ArrayBuffer] };
      }
      case 'fetch': {
        const r = await this.fetcher.run(job, early!);
        r.warnings.push(...this.warnings.splice(0));
        // (Shared memory the caller gave is not transferred: both sides hold it.)
        return { result: r, transfer: r.data && !(r.data.buffer instanceof SharedArrayBuffer) ? [r.data.buffer as ArrayBuffer] : [] };
      }
      case 'files': {
        const r = this.files(job);
        return { result: r, transfer: [r.space] };
      }
      case 'verify': {
        const built = this.graphs.source(job.stores, { check: this.chunks.check(job.digest), onWarning: () => {} });
        return { result: await runVerify(job, built), transfer: [] };
      }
    }
  }

  private scan(job: ScanJob): ScanResult {
    this.scanner ??= new CandidateScanner(SCAN_SEGMENT);
    const lookBehind = Math.min(BUZHASH_WINDOW - 1, job.start);
    const base = job.start - lookBehind;
    const len = job.end - base;
    const shift = 'ring' in job.input ? this.scanner.shiftFor(base % job.input.ring.byteLength) : 0;
    readInput(job.input, this.scanner.window(shift), 0, len, base);
    this.windowHolds = { input: job.input, base, len, shift };
    const candidates = this.scanner.scan(len, Math.max(lookBehind + 1, BUZHASH_WINDOW), job.d, base, shift);
    return { candidates, base };
  }

  /**
   * The ids of a batch of chunks; with a store, those it lacks are compressed
   * and put.  All has() questions go out at once (for a remote store they are
   * HEAD requests, bounded by its gate).  A local store takes the missing
   * chunks one after another from one reused buffer; a remote one gets them all
   * at once, each in memory of its own, so that the uploads overlap.  A chunk
   * counts as done for progress once digested and, if the store lacked it, put.
   */
  private chunkBatch(job: ChunkJob): Promise<ChunkResult> {
    const n = job.chunks.length / 2;
    const first = job.chunks[0];
    const total = job.chunks[2 * n - 2] + job.chunks[2 * n - 1] - first;
    const data = this.read(job.input, first, total);
    return this.storeBatch(n, (i) => {
      const o = job.chunks[2 * i] - first;
      return data.subarray(o, o + job.chunks[2 * i + 1]);
    }, job);
  }

  /** Chunks assembled from their recipes, then as chunkBatch. */
  private recipeBatch(job: RecipeChunksJob): Promise<ChunkResult> {
    const { data, starts } = assembleRecipes(job, this.buf);
    this.buf = data;
    return this.storeBatch(starts.length, (i) => data.subarray(starts[i], starts[i] + job.sizes[i]), job);
  }

  private async storeBatch(
    n: number,
    chunkAt: (i: number) => Uint8Array,
    job: Pick<ChunkJob, 'digest' | 'store' | 'compression' | 'progress'>,
  ): Promise<ChunkResult> {
    const ids = new Uint8Array(n * CHUNK_ID_SIZE);
    const tally = new JobTally(job.progress);
    const fresh = this.digestBatch(n, chunkAt, job, ids, tally);
    const { stored, storedBytes } = fresh ? await this.putMissing(fresh, job, tally) : { stored: 0, storedBytes: 0 };
    return { ids, stored, storedBytes };
  }

  // The batch's two halves are functions of their own: V8 optimizes the hot
  // digest loop while a long batch runs, and with the store half inside it
  // too, that code had no feedback yet and was thrown away and compiled again.

  /** Fills `ids`; with a store, the batch's distinct chunks by id (a repeat counts as done at once). */
  private digestBatch(
    n: number,
    chunkAt: (i: number) => Uint8Array,
    job: Pick<ChunkJob, 'digest' | 'store'>,
    ids: Uint8Array,
    tally: JobTally,
  ): Map<string, Uint8Array> | null {
    const fresh = job.store ? new Map<string, Uint8Array>() : null;
    for (let i = 0; i < n; i++) {
      const chunk = chunkAt(i);
      const id = this.chunks.idOf(job.digest, chunk);
      ids.set(id, i * CHUNK_ID_SIZE);
      if (!fresh) tally.chunk(chunk.length);
      else {
        const hex = toHex(id);
        if (fresh.has(hex)) tally.chunk(chunk.length);
        else fresh.set(hex, chunk);
      }
    }
    return fresh;
  }

  /** Compresses and puts the chunks the store lacks. */
  private async putMissing(
    fresh: Map<string, Uint8Array>,
    job: Pick<ChunkJob, 'store' | 'compression'>,
    tally: JobTally,
  ): Promise<{ stored: number; storedBytes: number }> {
    const store = this.graphs.writer(job.store!);
    const local = job.store!.store.kind === 'local';
    const present = await Promise.all([...fresh.keys()].map((id) => store.has(id)));
    const sends: Promise<void>[] = [];
    let stored = 0;
    let storedBytes = 0;
    let k = 0;
    for (const [id, chunk] of fresh) {
      if (present[k++]) {
        tally.chunk(chunk.length);
        continue;
      }
      const packed = await this.chunks.codec.compress(job.compression, chunk, true);
      // (Buffer.prototype.slice shares memory; Uint8Array's copies.)
      const body = local ? packed : Uint8Array.prototype.slice.call(packed);
      const size = chunk.length;
      const sent = store.put(id, body).then((added) => {
        tally.chunk(size);
        if (!added) return;
        stored++;
        storedBytes += body.length;
      });
      if (local) await sent;
      else sends.push(sent);
    }
    await Promise.all(sends);
    return { stored, storedBytes };
  }

  private digestRange(job: DigestJob): Uint8Array | null {
    this.running ??= createHash(job.digest);
    const w = this.windowHolds;
    if (w && sameInput(w.input, job.input) && job.start >= w.base && job.end <= w.base + w.len) {
      // The segment this thread just scanned: hashed from the scanner's window, not read again.
      this.running.update(this.scanner!.window(w.shift).subarray(job.start - w.base, job.end - w.base));
    } else {
      for (let pos = job.start; pos < job.end; pos += SCAN_SEGMENT) {
        const len = Math.min(SCAN_SEGMENT, job.end - pos);
        this.running.update(this.read(job.input, pos, len));
      }
    }
    if (!job.final) return null;
    const d = this.running.digest();
    this.running = undefined;
    return d;
  }

  private writers = new Map<string, { writer: FileWriter; warnings: string[] }>();

  /** Small extracted files: written whole, in order, by this thread. */
  private files(job: FilesJob): FilesResult {
    const key = `${job.replay}:${job.uidShift?.shift}:${job.uidShift?.range}:${job.punchHoles}:${job.undoImmutable}`;
    let w = this.writers.get(key);
    if (!w) {
      const linux = linuxFs();
      if (!linux) throw new WasyncError('EUNSUPPORTED', `writing files needs the Linux adapter: ${linuxFsUnavailable()}`);
      const warnings: string[] = [];
      const meta = new MetadataApplier(linux, job.replay, job.uidShift, (m) => warnings.push(m));
      w = { writer: new FileWriter(linux, meta, new Remover(linux, job.undoImmutable), job.punchHoles), warnings };
      this.writers.set(key, w);
    }
    for (const f of unpackFiles(job.files)) w.writer.writeWhole(f, f.data);
    return { warnings: w.warnings.splice(0), space: job.files.meta.buffer as ArrayBuffer };
  }

  /** Input bytes, valid until the next read: a view of the ring where possible, else read into this thread's buffer. */
  private read(f: InputRef, pos: number, len: number): Uint8Array {
    if ('ring' in f) {
      const size = f.ring.byteLength;
      const at = pos % size;
      if (at + len <= size) return new Uint8Array(f.ring, at, len);
    }
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(Math.max(len, 1 << 20));
    readInput(f, this.buf, 0, len, pos);
    return this.buf.subarray(0, len);
  }
}

/** Whether two references name the same input (a job's own, or one posted to this thread). */
function sameInput(a: InputRef, b: InputRef): boolean {
  if ('ring' in a || 'ring' in b) return 'ring' in a && 'ring' in b && a.ring === b.ring;
  return a.fd === b.fd && a.path === b.path;
}
