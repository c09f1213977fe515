// What every library operation shares: where its jobs run (worker threads, or
// the calling thread), progress reports, cancellation, and the option values
// the command line spells as strings (chunk sizes, digest, compression, feature
// flags), checked with the command line's own parsers so both refuse the same.

import { usageError } from '../errors.ts';
import { DEFAULT_CHUNK_SIZES, parseChunkSizeOption, type ChunkSizes } from '../chunker/sizes.ts';
import { COMPRESSIONS, type Compression } from '../chunk/compression.ts';
import { DIGESTS, type DigestName } from '../chunk/digest.ts';
import type { Executor, FetchStats } from '../platform/node/pool/jobs.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { InlineExecutor, WorkerPool } from '../platform/node/pool/worker-pool.ts';

export type { ChunkSizes, Compression, DigestName, FetchStats };

/** How far an operation is: bytes of the blob or archive stream done, of `total` when known. */
export interface ProgressReport {
  done: number;
  total: number | null;
  /** extraction: bytes by where their chunks came from, so far */
  sources?: FetchStats;
}

export interface OperationOptions {
  /**
   * Worker threads for hashing, compression and chunk I/O: 0 runs everything on
   * the calling thread; a number, that many threads; unset, one per core for
   * inputs of 16 MiB and more and the calling thread below (as the command line).
   */
  workers?: number;
  /** called after each batch of chunks (about every 4 MiB) */
  onProgress?(progress: ProgressReport): void;
  /**
   * Cancels the operation between batches: it rejects with the signal's reason,
   * having removed its temporary files (the output is left as it was).
   */
  signal?: AbortSignal;
}

/** The executors of one operation (the Executors of the command line, or a fixed number of threads). */
export interface OperationExecutors {
  readonly chunks: Executor;
  readonly digest: Executor;
  close(): Promise<void>;
}

/**
 * Tracks the jobs an executor runs, so that close() can wait for those in flight
 * before stopping its threads: a job stopped half-way could leave a chunk's
 * temporary file in the store, and a cancelled or failed operation promises to
 * leave none.
 */
class Draining implements Executor {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly inner: Executor) {}

  get parallelism() {
    return this.inner.parallelism;
  }

  run<R>(job: Parameters<Executor['run']>[0], transfer?: ArrayBuffer[]): Promise<R> {
    const p = this.inner.run<R>(job, transfer);
    const settled: Promise<unknown> = p.then(
      () => this.inFlight.delete(settled),
      () => this.inFlight.delete(settled),
    );
    this.inFlight.add(settled);
    return p;
  }

  async close() {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    await this.inner.close();
  }
}

export function executorsFor(bytes: number, workers: number | undefined): OperationExecutors {
  let make: (ordered: boolean) => Executor;
  if (workers === undefined) {
    const e = new Executors(bytes);
    make = (ordered) => (ordered ? e.digest : e.chunks);
  } else {
    if (!Number.isSafeInteger(workers) || workers < 0) throw usageError(`workers ${workers}: expected 0 or a positive whole number`);
    make = (ordered) => (workers === 0 ? new InlineExecutor() : new WorkerPool(ordered ? 1 : workers));
  }
  let chunks: Draining | undefined;
  let digest: Draining | undefined;
  let closed: Promise<void> | undefined;
  return {
    get chunks() {
      return (chunks ??= new Draining(make(false)));
    },
    get digest() {
      return (digest ??= new Draining(make(true)));
    },
    // Called on failure (before outputs are removed) and again at the end.
    close: () => (closed ??= Promise.all([chunks?.close(), digest?.close()]).then(() => {})),
  };
}

/** Throws the signal's reason once it is aborted. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** An async iterable that stops with the signal's reason once it is aborted. */
export async function* abortable<T>(items: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  for await (const item of items) {
    checkAborted(signal);
    yield item;
  }
}

/** `[MIN:]AVG[:MAX]` as --chunk-size takes it, or the three numbers. */
export function chunkSizes(v: string | ChunkSizes | undefined): ChunkSizes {
  if (v === undefined) return DEFAULT_CHUNK_SIZES;
  return parseChunkSizeOption(typeof v === 'string' ? v : `${v.min}:${v.avg}:${v.max}`);
}

export function digestName(v: string | undefined): DigestName {
  if (v === undefined) return 'sha512-256';
  if (!DIGESTS.includes(v as DigestName)) throw usageError(`digest ${v}: not one of ${DIGESTS.join(', ')}`);
  return v as DigestName;
}

export function compressionName(v: string | undefined): Compression {
  if (v === undefined) return 'zstd';
  if (!COMPRESSIONS.includes(v as Compression)) throw usageError(`compression ${v}: not one of ${COMPRESSIONS.join(', ')}`);
  return v as Compression;
}

/** The metadata an archive keeps: casync's --with/--without names and exclusions. */
export interface FeatureOptions {
  /** feature names or groups (`best`, `unix`, `xattrs`, `sec-time`, …); default casync's */
  with?: string[];
  without?: string[];
  /** leave out what has chattr's +d flag (default true) */
  excludeNodump?: boolean;
  /** stay on the file system of the top directory (default false) */
  excludeSubmounts?: boolean;
  /** honour .caexclude files (default true) */
  excludeFile?: boolean;
}

const yesNo = (v: boolean | undefined) => (v === undefined ? undefined : v ? 'yes' : 'no');

/** FeatureOptions as the command line's options, for the code the two share. */
export function featureCliOptions(f: FeatureOptions | undefined) {
  return {
    with: f?.with,
    without: f?.without,
    excludeNodump: yesNo(f?.excludeNodump),
    excludeSubmounts: yesNo(f?.excludeSubmounts),
    excludeFile: yesNo(f?.excludeFile),
  };
}
