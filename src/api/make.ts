// make(): a file or block device (or bytes in memory, or a stream of them)
// chunked into a store with a blob index (.caibx), or a directory tree serialized as a catar stream and either chunked
// with an archive index (.caidx) or written whole (.catar).  The engine is the
// command line's (makeBlob; encodeTree into a ChunkPipeline); what differs is
// the wiring: stores are arguments, the index goes to a file written under a
// temporary name or comes back as bytes, nothing is printed, and progress and
// cancellation go through the caller's callback and AbortSignal.

import { statSync } from 'node:fs';
import { toHex } from '../chunk/chunk-id.ts';
import { WasyncError, usageError } from '../errors.ts';
import { blobIndexFlags, makeBlob as makeBlobEngine } from '../platform/node/pool/make-blob.ts';
import { ChunkPipeline } from '../platform/node/pool/chunk-pipeline.ts';
import { RingWriter, ringSizeFor } from '../platform/node/pool/ring-writer.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import { encodeIndexItems, encodeIndexPreamble, encodeIndexTail } from '../format/index-file.ts';
import { archiveFlags } from '../cli/make-tree.ts';
import { AtomicFile } from '../platform/node/io/atomic-file.ts';
import { openBlobInput } from '../platform/node/io/blob-file.ts';
import { BufferedOutput } from '../platform/node/io/buffered-output.ts';
import { writeFully } from '../platform/node/io/file-io.ts';
import { linuxFs, linuxFsUnavailable } from '../platform/node/linux/index.ts';
import { encodeTree } from '../platform/node/tree/encode-tree.ts';
import { hasSuffix } from '../stores/locator.ts';
import {
  checkAborted,
  chunkSizes,
  compressionName,
  digestName,
  executorsFor,
  featureCliOptions,
  type ChunkSizes,
  type Compression,
  type DigestName,
  type FeatureOptions,
  type OperationExecutors,
  type OperationOptions,
} from './common.ts';
import { bindStores, storesOrDefault, type BoundStores, type RemoteOptions, type StoreLike } from './stores.ts';

export type MakeWhat = 'blob-index' | 'archive-index' | 'archive';

export interface MakeOptions extends OperationOptions, RemoteOptions {
  /**
   * a regular file or block device (blob), or a directory (tree); or the blob
   * itself: its bytes, or an async iterable of them (a stream, a file of an
   * in-memory file system), chunked as they arrive
   */
  source: string | Uint8Array | AsyncIterable<Uint8Array>;
  /** the file to write (.caibx, .caidx or .catar); without it the result carries the bytes */
  output?: string;
  /** what to make; default: from the output's suffix, else blob-index for a file and archive-index for a directory */
  what?: MakeWhat;
  /** where new chunks go; default: default.castr beside the output (an archive needs none) */
  store?: StoreLike;
  /** `[MIN:]AVG[:MAX]` with suffixes, or the three sizes (default 16K:64K:256K) */
  chunkSize?: string | ChunkSizes;
  digest?: DigestName;
  compression?: Compression;
  /** archives: the metadata kept (casync's --with/--without) */
  features?: FeatureOptions;
}

export interface MakeResult {
  what: MakeWhat;
  /** the digest `wasync make` prints: of the blob, or of the archive stream (hex) */
  digest: string;
  /** bytes of the blob or archive stream */
  size: number;
  chunks: number;
  /** chunks the store did not have yet, and their compressed bytes */
  stored: number;
  storedBytes: number;
  /** trees: entries archived */
  entries?: number;
  /** the index or archive, when no `output` was given */
  bytes?: Uint8Array;
}

/** The index or archive being written: a file under a temporary name, or memory. */
class Output {
  private readonly file: AtomicFile | null;
  private readonly parts: Uint8Array[] = [];
  private written = 0;

  constructor(path: string | undefined, mode: number) {
    this.file = path === undefined ? null : new AtomicFile(path, mode, false);
  }

  /** For many small writes: the file through a buffer. */
  buffered(name: string): { write(b: Uint8Array): Promise<void>; flush(): Promise<void> } {
    if (this.file) return new BufferedOutput(this.file.fd, name);
    return { write: async (b) => this.write(b), flush: async () => {} };
  }

  write(bytes: Uint8Array): void {
    if (this.file) writeFully({ fd: this.file.fd, path: this.file.path }, bytes, this.written);
    else this.parts.push(Uint8Array.prototype.slice.call(bytes));
    this.written += bytes.length;
  }

  finish(): Uint8Array | undefined {
    if (!this.file) return Buffer.concat(this.parts);
    this.file.commit();
    return undefined;
  }

  abort(): void {
    this.file?.abort();
  }
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<Uint8Array> =>
  typeof (v as AsyncIterable<Uint8Array> | null)?.[Symbol.asyncIterator] === 'function';

/** make() of a path. */
type PathMake = MakeOptions & { source: string };

function whatOf(o: PathMake, isDir: boolean): MakeWhat {
  let what = o.what;
  if (what !== undefined && !['blob-index', 'archive-index', 'archive'].includes(what)) {
    throw usageError(`what ${what}: not one of blob-index, archive-index, archive`);
  }
  if (what === undefined && o.output !== undefined) {
    if (hasSuffix(o.output, '.caibx')) what = 'blob-index';
    else if (hasSuffix(o.output, '.caidx')) what = 'archive-index';
    else if (hasSuffix(o.output, '.catar')) what = 'archive';
    else throw usageError(`${o.output}: the file to create has no valid suffix (.catar, .caidx or .caibx); refusing`);
  }
  what ??= isDir ? 'archive-index' : 'blob-index';
  if (isDir && what === 'blob-index') throw usageError(`${o.source} is a directory, but a blob index (.caibx) was asked for`);
  if (!isDir && what !== 'blob-index') {
    throw usageError(`${o.source} is a regular file or block device, but a directory archive (.catar/.caidx) was asked for; refusing`);
  }
  return what;
}

/** Makes a blob index, an archive index or an archive (see MakeOptions). */
export async function make(o: MakeOptions): Promise<MakeResult> {
  checkAborted(o.signal);
  if (o.source instanceof Uint8Array || isAsyncIterable(o.source)) {
    whatOf({ ...o, source: 'the bytes given' }, false);
    return makeBlobFromBytes(o, o.source);
  }
  if (typeof o.source !== 'string') throw usageError('make: `source` (a file, block device, directory, or bytes) is required');
  const p = o as PathMake;
  const isDir = statSync(p.source, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const what = whatOf(p, isDir);
  return what === 'blob-index' ? makeBlobIndex(p) : makeTree(p, what);
}

/**
 * A blob that is not a file: its bytes go through a ring buffer into the same
 * pipeline a tree's archive stream takes, so a stream of unknown length is
 * chunked as it arrives, in bounded memory.
 */
async function makeBlobFromBytes(o: MakeOptions, source: Uint8Array | AsyncIterable<Uint8Array>): Promise<MakeResult> {
  const sizes = chunkSizes(o.chunkSize);
  const digest = digestName(o.digest);
  const compression = compressionName(o.compression);
  const total = source instanceof Uint8Array ? source.length : null;
  const executors = executorsFor(total ?? Infinity, o.workers);
  const stores = bindStores(storesOrDefault(o.store, o.output ?? null), o);
  return producing(o.output, 0o666, executors, () => stores.close(), async (out) => {
    const sink = out.buffered(o.output ?? 'memory');
    const ring = new SharedArrayBuffer(ringSizeFor(sizes.max));
    const pipeline = new ChunkPipeline({
      input: { ring, path: 'the blob given as bytes' },
      sizes,
      digest,
      store: stores.locators[0],
      remote: stores.remote(executors.chunks.parallelism),
      compression,
      executor: executors.chunks,
      digestExecutor: executors.digest,
      onChunks: (ends, r) => {
        o.onProgress?.({ done: ends[ends.length - 1], total });
        return sink.write(encodeIndexItems(ends, r.ids));
      },
    });
    await sink.write(encodeIndexPreamble({ flags: blobIndexFlags(digest), ...sizes }));
    const writer = new RingWriter(ring, pipeline);
    const pieces = source instanceof Uint8Array ? [source] : source;
    for await (const piece of pieces) {
      checkAborted(o.signal);
      if (!(piece instanceof Uint8Array)) throw usageError('make: the source iterable yielded something other than a Uint8Array');
      await writer.write(piece);
    }
    const totals = await pipeline.finish(writer.written);
    await sink.write(encodeIndexTail(totals.chunks));
    await sink.flush();
    // An abort during the last batch still leaves the output as it was.
    checkAborted(o.signal);
    const bytes = out.finish();
    if (!totals.digest) throw new WasyncError('EFORMAT', 'the blob given as bytes was not digested');
    return { what: 'blob-index', digest: toHex(totals.digest), size: writer.written, chunks: totals.chunks, stored: totals.stored, storedBytes: totals.storedBytes, bytes };
  });
}

async function makeBlobIndex(o: PathMake): Promise<MakeResult> {
  const sizes = chunkSizes(o.chunkSize);
  const digest = digestName(o.digest);
  const compression = compressionName(o.compression);
  const input = openBlobInput(o.source);
  let executors: OperationExecutors;
  let stores: BoundStores;
  try {
    executors = executorsFor(input.size, o.workers);
    stores = bindStores(storesOrDefault(o.store, o.output ?? null), o);
  } catch (e) {
    input.close();
    throw e;
  }
  const release = () => {
    input.close();
    stores.close();
  };
  return producing(o.output, input.stat.mode & 0o666, executors, release, async (output) => {
    const r = await makeBlobEngine({
      input,
      size: input.size,
      sizes,
      digest,
      store: stores.locators[0],
      remote: stores.remote(executors.chunks.parallelism),
      compression,
      executor: executors.chunks,
      digestExecutor: executors.digest,
      writeIndex: (bytes) => {
        checkAborted(o.signal);
        output.write(bytes);
      },
      onProgress: (done) => o.onProgress?.({ done, total: input.size }),
    });
    // An abort during the last batch still leaves the output as it was.
    checkAborted(o.signal);
    const bytes = output.finish();
    return { what: 'blob-index', digest: toHex(r.digest), size: r.size, chunks: r.chunks, stored: r.stored, storedBytes: r.storedBytes, bytes };
  });
}

async function makeTree(o: PathMake, what: 'archive-index' | 'archive'): Promise<MakeResult> {
  const digest = digestName(o.digest);
  const flags = archiveFlags({ ...featureCliOptions(o.features), digest });
  const sizes = chunkSizes(o.chunkSize);
  const compression = compressionName(o.compression);
  const chunked = what === 'archive-index';
  const linux = linuxFs();
  const executors = executorsFor(Infinity, o.workers);
  const stores = chunked ? bindStores(storesOrDefault(o.store, o.output ?? null), o) : null;
  return producing(o.output, 0o666, executors, () => stores?.close(), async (out) => {
    const sink = out.buffered(o.output ?? 'memory');
    const ring = new SharedArrayBuffer(ringSizeFor(sizes.max));
    const pipeline = new ChunkPipeline({
      input: { ring, path: `${o.source} (archive stream)` },
      sizes,
      digest: digestOfFlags(flags),
      store: stores?.locators[0] ?? null,
      remote: stores?.remote(executors.chunks.parallelism),
      compression,
      executor: executors.chunks,
      digestExecutor: executors.digest,
      chunk: chunked,
      onChunks: (ends, r) => sink.write(encodeIndexItems(ends, r.ids)),
    });
    if (chunked) await sink.write(encodeIndexPreamble({ flags, ...sizes }));
    const writer = new RingWriter(ring, pipeline, chunked ? undefined : (b) => sink.write(b));
    let reported = 0;
    const tree = await encodeTree({
      root: o.source,
      featureFlags: flags,
      linux,
      linuxMissing: linux ? null : linuxFsUnavailable(),
      sink: {
        // Cancellation and progress at each record write (once per file or so).
        write: async (b) => {
          checkAborted(o.signal);
          if (writer.written - reported >= 1 << 20) o.onProgress?.({ done: (reported = writer.written), total: null });
          await writer.write(b);
        },
        reserve: (n) => writer.reserve(n),
        commit: (n) => writer.commit(n),
      },
    });
    const totals = await pipeline.finish(writer.written);
    if (chunked) await sink.write(encodeIndexTail(totals.chunks));
    await sink.flush();
    o.onProgress?.({ done: writer.written, total: writer.written });
    // An abort during the last batch still leaves the output as it was.
    checkAborted(o.signal);
    const bytes = out.finish();
    if (!totals.digest) throw new WasyncError('EFORMAT', `${o.source}: the archive stream was not digested`);
    return {
      what,
      digest: toHex(totals.digest),
      size: tree.bytes,
      chunks: totals.chunks,
      stored: totals.stored,
      storedBytes: totals.storedBytes,
      entries: tree.entries,
      bytes,
    };
  });
}

/**
 * Runs `body` with a new Output.  Whatever the outcome, the jobs still in flight
 * (they may read the input, write the store or wait on a relayed store) are
 * waited for first; then a failure discards the output, and `release` closes
 * what the operation opened.
 */
async function producing<T>(
  path: string | undefined,
  mode: number,
  executors: OperationExecutors,
  release: () => void,
  body: (out: Output) => Promise<T>,
): Promise<T> {
  let out: Output | null = null;
  try {
    out = new Output(path, mode);
    return await body(out);
  } catch (e) {
    await executors.close();
    out?.abort();
    throw e;
  } finally {
    await executors.close();
    release();
  }
}
