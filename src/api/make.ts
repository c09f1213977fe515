// make(): a file or block device chunked into a store with a blob index
// (.caibx), or a directory tree serialized as a catar stream and either chunked
// with an archive index (.caidx) or written whole (.catar).  The engine is the
// command line's (makeBlob; encodeTree into a ChunkPipeline); what differs is
// the wiring: stores are arguments, the index goes to a file written under a
// temporary name or comes back as bytes, nothing is printed, and progress and
// cancellation go through the caller's callback and AbortSignal.

import { statSync } from 'node:fs';
import { toHex } from '../chunk-id.ts';
import { WasyncError, usageError } from '../errors.ts';
import { makeBlob as makeBlobEngine } from '../engine/make-blob.ts';
import { ChunkPipeline } from '../engine/chunk-pipeline.ts';
import { RingWriter, ringSizeFor } from '../engine/ring-writer.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import { encodeIndexItems, encodeIndexPreamble, encodeIndexTail } from '../format/index-file.ts';
import { archiveFlags } from '../cli/make-tree.ts';
import { AtomicFile } from '../platform/node/atomic-file.ts';
import { openBlobInput } from '../platform/node/blob-file.ts';
import { BufferedOutput } from '../platform/node/buffered-output.ts';
import { writeFully } from '../platform/node/file-io.ts';
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
  type OperationOptions,
} from './common.ts';
import { bindStores, storesOrDefault, type RemoteOptions, type StoreLike } from './stores.ts';

export type MakeWhat = 'blob-index' | 'archive-index' | 'archive';

export interface MakeOptions extends OperationOptions, RemoteOptions {
  /** a regular file or block device (blob), or a directory (tree) */
  source: string;
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

function whatOf(o: MakeOptions, isDir: boolean): MakeWhat {
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
  if (typeof o.source !== 'string') throw usageError('make: `source` (a file, block device or directory) is required');
  const isDir = statSync(o.source, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const what = whatOf(o, isDir);
  return what === 'blob-index' ? makeBlobIndex(o) : makeTree(o, what);
}

async function makeBlobIndex(o: MakeOptions): Promise<MakeResult> {
  const sizes = chunkSizes(o.chunkSize);
  const digest = digestName(o.digest);
  const compression = compressionName(o.compression);
  const stores = bindStores(storesOrDefault(o.store, o.output ?? null), o);
  const input = openBlobInput(o.source);
  const executors = executorsFor(input.size, o.workers);
  let out: Output | null = null;
  try {
    out = new Output(o.output, input.stat.mode & 0o666);
    const output = out;
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
    const bytes = out.finish();
    return { what: 'blob-index', digest: toHex(r.digest), size: r.size, chunks: r.chunks, stored: r.stored, storedBytes: r.storedBytes, bytes };
  } catch (e) {
    out?.abort();
    throw e;
  } finally {
    input.close();
    stores.close();
    await executors.close();
  }
}

async function makeTree(o: MakeOptions, what: 'archive-index' | 'archive'): Promise<MakeResult> {
  const digest = digestName(o.digest);
  const flags = archiveFlags({ ...featureCliOptions(o.features), digest });
  const sizes = chunkSizes(o.chunkSize);
  const compression = compressionName(o.compression);
  const chunked = what === 'archive-index';
  const stores = chunked ? bindStores(storesOrDefault(o.store, o.output ?? null), o) : null;
  const linux = linuxFs();
  const executors = executorsFor(Infinity, o.workers);
  let out: Output | null = null;
  try {
    out = new Output(o.output, 0o666);
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
  } catch (e) {
    out?.abort();
    throw e;
  } finally {
    stores?.close();
    await executors.close();
  }
}
