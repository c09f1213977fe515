// The units of work the chunk engine hands to its executor, usually a pool of
// worker threads.  Jobs carry file descriptors and store descriptions rather
// than data: a worker reads its own input (threads share the process's
// descriptors) and builds the stores from their StoreGraph, so the main thread
// never copies image bytes, and every core hashes, compresses and writes.
// job-runner.ts runs them.

import type { Compression } from '../../../chunk/compression.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import type { PackedFiles } from './file-batch.ts';
import type { ChunkVerdict } from '../../../engine/verify.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { CloneReport } from './seed-clones.ts';

/** Bytes one scan job covers; also the scanner's window size. */
export const SCAN_SEGMENT = 8 << 20;

/** A file (or block device) region given by descriptor; `path` names it in errors. */
export interface FileRef {
  fd: number;
  path: string;
}

/**
 * A stream being produced into a shared ring buffer: stream offset p lives at
 * p mod ring.byteLength.  The producer never overwrites bytes a job may still
 * read (see ChunkPipeline.release).
 */
export interface RingRef {
  ring: SharedArrayBuffer;
  path: string;
}

export type InputRef = FileRef | RingRef;

/** Just the descriptor and name, so that a richer object can be posted to a worker. */
export const fileRef = (f: FileRef): FileRef => ({ fd: f.fd, path: f.path });

export const inputRef = (i: InputRef): InputRef => ('ring' in i ? { ring: i.ring, path: i.path } : fileRef(i));

/** Candidate cut positions in input[start, end) (see chunker/cut-resolver.ts). */
export interface ScanJob {
  kind: 'scan';
  input: InputRef;
  start: number;
  end: number;
  d: number;
}
export interface ScanResult {
  candidates: Uint32Array;
  base: number;
}

/** Digests chunks [offset, offset + size) of input and, with a store, stores those it lacks. */
export interface ChunkJob {
  kind: 'chunks';
  input: InputRef;
  /** offset, size pairs, ascending and contiguous */
  chunks: Float64Array;
  digest: DigestName;
  store: StoreGraph | null;
  compression: Compression;
  /** progress-counter.ts: bumped per chunk digested and stored */
  progress?: SharedArrayBuffer;
}
export interface ChunkResult {
  ids: Uint8Array;
  stored: number;
  storedBytes: number;
}

/**
 * Regular files of a tree made with an encoder cache (tree/cached-make.ts), each
 * read whole by path: the candidates inside its content and its edges.
 */
export interface ScanFilesJob {
  kind: 'scan-files';
  /** absolute paths, as latin1 strings of their bytes */
  paths: string[];
  sizes: Float64Array;
  d: number;
}
export interface ScanFilesResult {
  /** per file, how many of `candidates` are its (end positions in the file, 48..size) */
  counts: Uint32Array;
  candidates: Float64Array;
  /** per file, its first and last 47 bytes */
  edges: Uint8Array;
  /** the content of each file of at most KEPT_CONTENT bytes, one after another: its chunks need not read it again */
  contents: Uint8Array;
}
/** Files up to this size come back whole from a scan (so at most a batch's bytes, tree/cached-scans.ts, plus one file). */
export const KEPT_CONTENT = 16 << 10;

/**
 * Chunks given as recipes (tree/cached-make.ts): record bytes and file ranges,
 * assembled, digested and, with a store, stored when it lacks them.
 */
export interface RecipeChunksJob {
  kind: 'recipe-chunks';
  /** per chunk, its size; its pieces follow those of the chunk before */
  sizes: Float64Array;
  /** per piece, RECIPE_FIELDS numbers: 0, offset in `bytes`, 0, length; or 1, path number, file offset, length */
  pieces: Float64Array;
  bytes: Uint8Array;
  /** as in ScanFilesJob */
  paths: string[];
  digest: DigestName;
  store: StoreGraph | null;
  compression: Compression;
  progress?: SharedArrayBuffer;
}
export const RECIPE_FIELDS = 4;

/** Feeds input[start, end) to this thread's running digest; `final` returns it. */
export interface DigestJob {
  kind: 'digest';
  input: InputRef;
  start: number;
  end: number;
  digest: DigestName;
  final: boolean;
}

export const Source = { Store: 0, Seed: 1, Zero: 2, Recipe: 3 } as const;

/** Part of a chunk rebuilt from a seed tree: kept record bytes, or a file range. */
export type RecipePiece = { bytes: Uint8Array } | { path: Uint8Array; offset: number; length: number };

/**
 * Assembles chunks into the output.  For each chunk: its id (packed in `ids`),
 * its size and output offset, and where to look first (a seed location, or
 * known zeros).  Output: pwrite to `out`, or returned in order when out is null.
 */
export interface FetchJob {
  kind: 'fetch';
  ids: Uint8Array;
  /** per chunk: output offset, size, source, seed number, seed offset */
  plan: Float64Array;
  digest: DigestName;
  /** where chunks no seed gives are read (a chain in casync's order, usually) */
  stores: StoreGraph;
  seeds: FileRef[];
  out: FileRef | null;
  /** Leave zero chunks as holes (fresh output file) instead of writing them. */
  holes: boolean;
  /** Output already holds data (block device): skip chunks that are already right. */
  compareOutput: boolean;
  /** Source.Recipe chunks: the plan's seed-offset field indexes this list. */
  recipes?: RecipePiece[][];
  /** progress-counter.ts: bumped per chunk written */
  progress?: SharedArrayBuffer;
  /** --reflink (a regular output file): per seed number, whether to clone from it (seed-clones.ts) */
  cloneSeeds?: boolean[];
  /** with cloneSeeds: the job holds the output's last chunk */
  last?: boolean;
  /** with out null: the bytes are collected here when it is large enough (the result's data is then a view of it) */
  into?: SharedArrayBuffer;
}
export const FETCH_PLAN_FIELDS = 5;
/** Where a fetch job's chunks came from: counts and bytes per source. */
export interface FetchStats {
  /** local stores (--store, --extra-store) */
  fromStore: number;
  fromStoreBytes: number;
  /** the --cache store */
  fromCache: number;
  fromCacheBytes: number;
  /** remote stores (network) */
  fromRemote: number;
  fromRemoteBytes: number;
  fromSeed: number;
  fromSeedBytes: number;
  zero: number;
  zeroBytes: number;
  /** block devices: chunks already right */
  unchanged: number;
  unchangedBytes: number;
  /** seed chunks that no longer matched their id (a stale seed index) */
  seedMisses: number;
}
/** Stream bytes that were taken from a seed file, for reflinking them. */
export interface Origin {
  /** stream offset */
  offset: number;
  length: number;
  path: Uint8Array;
  fileOffset: number;
}

export interface FetchResult {
  stats: FetchStats;
  /** where recipe-built chunks came from (seed trees only) */
  origins: Origin[];
  data: Uint8Array | null;
  warnings: string[];
  /** with cloneSeeds: what was cloned rather than written */
  clones?: CloneReport;
}

/**
 * Small files of an extracted tree, written by a worker: each whole file under
 * its temporary name in an open directory, its metadata, its rename.
 */
export interface FilesJob {
  kind: 'files';
  /** what to restore (the archive's flags masked by --with/--without) */
  replay: bigint;
  uidShift: { shift: number; range: number } | null;
  punchHoles: boolean;
  undoImmutable: boolean;
  files: PackedFiles;
}
export interface FilesResult {
  warnings: string[];
  /** the batch's buffer, handed back for the next batch */
  space: ArrayBuffer;
}

/** Checks that stores hold good copies of chunks (wasync verify). */
export interface VerifyJob {
  kind: 'verify';
  ids: Uint8Array;
  sizes: Float64Array;
  digest: DigestName;
  stores: StoreGraph;
}
export interface VerifyResult {
  /** the chunks that are not fine */
  problems: ChunkVerdict[];
}

export type Job = ScanJob | ChunkJob | DigestJob | FetchJob | FilesJob | VerifyJob | ScanFilesJob | RecipeChunksJob;

export const emptyFetchStats = (): FetchStats => ({
  fromStore: 0,
  fromStoreBytes: 0,
  fromCache: 0,
  fromCacheBytes: 0,
  fromRemote: 0,
  fromRemoteBytes: 0,
  fromSeed: 0,
  fromSeedBytes: 0,
  zero: 0,
  zeroBytes: 0,
  unchanged: 0,
  unchangedBytes: 0,
  seedMisses: 0,
});

export interface Executor {
  /** How many jobs run at once; callers keep about twice that many queued. */
  readonly parallelism: number;
  /** `transfer`: buffers of the job handed to the worker, not copied (the caller drops them) */
  run<R>(job: Job, transfer?: ArrayBuffer[]): Promise<R>;
  close(): Promise<void>;
}
