// What every operation shares: where its jobs run, progress, warnings and
// cancellation, and the option values the command line spells as strings
// (chunk sizes, digest, compression, casync's feature names), checked here so
// that the library and the command line refuse the same values.

import { DEFAULT_CHUNK_SIZES, parseChunkSizeOption, type ChunkSizes } from '../../../chunker/sizes.ts';
import { COMPRESSIONS, type Compression } from '../../../chunk/compression.ts';
import { DIGESTS, type DigestName } from '../../../chunk/digest.ts';
import { usageError } from '../../../errors.ts';
import { CA_FORMAT_SUPPORTED_WITH_MASK } from '../../../format/feature-flags.ts';
import { combineFeatureFlags, featureFlagsFromOptions } from '../../../format/feature-flag-names.ts';
import type { FetchStats } from '../pool/jobs.ts';
import { progressBuffer, readProgress } from '../pool/progress-counter.ts';

export type { ChunkSizes, Compression, DigestName, FetchStats };

/** How far an operation is: bytes of the blob or archive stream done, of `total` when known. */
export interface ProgressReport {
  done: number;
  total: number | null;
  /** extraction: bytes by where their chunks came from, so far */
  sources?: FetchStats;
}

/**
 * The moments a service manager is told of (sd_notify: the command line sends
 * them to $NOTIFY_SOCKET).  The operation decides when; the caller, how.
 */
export type OperationNotice =
  /**
   * The work is under way: the inputs are open, nothing processed yet (where
   * casync sends READY=1; seeds are chunked after it).  mount: the file system
   * is live; mkdev: the export is up, at `device` (the /dev/nbdN attached, or
   * the NBD URI clients connect to).
   */
  | { state: 'ready'; device?: string }
  /** a seed is being chunked (bytes of it so far, of `total` when known); before 'ready' for mount and mkdev */
  | { state: 'seeding'; seed: string; done: number; total: number | null };

export interface OperationOptions {
  /**
   * Worker threads for hashing, compression and chunk I/O: 0 runs everything on
   * the calling thread; a number, that many threads; unset, one per core for
   * inputs of 16 MiB and more and the calling thread below.
   */
  workers?: number;
  /**
   * called every 100 ms while the figures move (bytes are counted per chunk as
   * it is written) and once at the end; what it throws fails the operation
   * when that ends
   */
  onProgress?(progress: ProgressReport): void;
  /** what went wrong but did not stop the operation (a corrupt copy another store replaced, …) */
  onWarning?(message: string): void;
  /** the moments a service manager waits for (see OperationNotice) */
  notify?(notice: OperationNotice): void;
  /**
   * Cancels the operation between batches: it rejects with the signal's reason,
   * having removed its temporary files (the output is left as it was).
   */
  signal?: AbortSignal;
}

/** How often a running operation passes its progress on. */
const PROGRESS_EVERY_MS = 100;

/**
 * An operation's progress, read on a timer and passed to onProgress when it
 * moved, and once more by end().  The data path only counts; no onProgress,
 * no timer.
 */
export class ProgressTicker {
  private readonly timer: ReturnType<typeof setInterval> | null;
  private last = -1;
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly o: Pick<OperationOptions, 'onProgress'>,
    private readonly read: () => ProgressReport,
    /** the counters the jobs bump (progress-counter.ts), when they count */
    readonly buffer?: SharedArrayBuffer,
  ) {
    this.timer = o.onProgress ? setInterval(() => this.tick(), PROGRESS_EVERY_MS) : null;
    this.timer?.unref();
  }

  /** The last report, all done; rethrows what onProgress threw while the work ran. */
  end() {
    this.stop();
    if (this.failure) throw this.failure.error;
    this.o.onProgress?.(this.read());
  }

  /** No more reports (the operation failed, or end() was called). */
  stop() {
    if (this.timer) clearInterval(this.timer);
  }

  private tick() {
    const p = this.read();
    if (p.done === this.last) return;
    this.last = p.done;
    try {
      this.o.onProgress!(p);
    } catch (error) {
      this.failure = { error };
      this.stop();
    }
  }
}

/**
 * Progress the jobs count per chunk in shared memory: make's bytes digested
 * and stored, an extraction's bytes written and (`sources`) where they came from.
 */
export function countedProgress(o: Pick<OperationOptions, 'onProgress'>, total: number | null, sources: boolean): ProgressTicker {
  if (!o.onProgress) return new ProgressTicker(o, () => ({ done: 0, total }));
  const buffer = progressBuffer();
  return new ProgressTicker(
    o,
    () => {
      const c = readProgress(buffer);
      return sources ? { done: c.done, total, sources: c.sources } : { done: c.done, total };
    },
    buffer,
  );
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

const flagOptions = (f: FeatureOptions | undefined, digest: DigestName) => ({
  with: f?.with ?? [],
  without: f?.without ?? [],
  excludeNodump: f?.excludeNodump ?? true,
  excludeSubmounts: f?.excludeSubmounts ?? false,
  excludeFile: f?.excludeFile ?? true,
  digest,
});

/**
 * The feature flags of an archive made with these options (casync-format.md §3.2);
 * `defaultWith`: the set without --with= (a tar source has its own).
 */
export const archiveFlags = (f: FeatureOptions | undefined, digest: DigestName = 'sha512-256', defaultWith = CA_FORMAT_SUPPORTED_WITH_MASK): bigint =>
  featureFlagsFromOptions(flagOptions(f, digest), defaultWith);

/** The decoder mask casync builds from the same options (unnormalized: see replayFeatureFlags). */
export const decoderMask = (f: FeatureOptions | undefined, digest: DigestName = 'sha512-256'): bigint =>
  combineFeatureFlags(flagOptions(f, digest), CA_FORMAT_SUPPORTED_WITH_MASK);
