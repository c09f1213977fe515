// make(): a file or block device (or bytes in memory, or a stream of them)
// chunked into a store with a blob index (.caibx), or a directory tree
// serialized as a catar stream and either chunked with an archive index
// (.caidx) or written whole (.catar).  A tree's stream, and a blob that is not
// a file, are produced on this thread into a shared ring buffer that the
// worker threads chunk and digest as it fills, in bounded memory; a file is
// read by the workers themselves.  The output goes where output.ts puts it.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../../chunk/chunk-id.ts';
import { WasyncError, unsupported, usageError } from '../../../errors.ts';
import { digestOfFlags } from '../../../format/feature-flags.ts';
import { encodeIndexItems, encodeIndexPreamble, encodeIndexTail } from '../../../format/index-file.ts';
import { classifyLocator, defaultStoreFor, isFailoverGroup, stripFileUrl } from '../../../stores/locator.ts';
import type { StoreGraph } from '../../../stores/store-graph.ts';
import type { WriteStore } from '../../../stores/store.ts';
import { openBlobInput } from '../io/blob-file.ts';
import { linuxFs, linuxFsUnavailable, type LinuxFs } from '../linux/index.ts';
import { makeCachedTree } from '../tree/cached-make.ts';
import { EncoderCacheDir } from '../tree/encoder-cache.ts';
import { ChunkPipeline, type ChunkTotals } from '../pool/chunk-pipeline.ts';
import { Executors } from '../pool/executors.ts';
import { blobIndexFlags, makeBlob } from '../pool/make-blob.ts';
import { progressBuffer, readProgress } from '../pool/progress-counter.ts';
import { RingWriter, ringSizeFor } from '../pool/ring-writer.ts';
import { encodeTree, type CatarSink } from '../tree/encode-tree.ts';
import { encodeTar } from '../tree/encode-tar.ts';
import { TAR_FEATURE_FLAGS } from '../../../format/tar-reader.ts';
import {
  ProgressTicker,
  archiveFlags,
  checkAborted,
  chunkSizes,
  countedProgress,
  compressionName,
  digestName,
  type ChunkSizes,
  type Compression,
  type DigestName,
  type FeatureOptions,
  type OperationOptions,
} from './common.ts';
import { Network, type NetworkOptions } from './network.ts';
import { MadeOutput, type Pushed } from './output.ts';
import { makesArchive, resolveMake, type MadeWhat } from './resolve.ts';
import { OperationStores, type StoreChoice, type StoreLike } from './stores.ts';

export type MakeWhat = MadeWhat;

export interface MakeOptions extends OperationOptions, NetworkOptions {
  /**
   * a regular file or block device (blob; '-' is a regular file on standard
   * input), or a directory (tree); or the blob itself: its bytes, or an async
   * iterable of them (a stream, a file of an in-memory file system), chunked
   * as they arrive
   */
  source: string | Uint8Array | AsyncIterable<Uint8Array>;
  /** the file to write (.caibx, .caidx or .catar; a path, URL, ssh location or '-'); without it the result carries the bytes */
  output?: string;
  /** what to make; default: from the output's suffix, else blob-index for a file and archive-index for a directory */
  what?: MakeWhat;
  /** where new chunks go; default: default.castr beside the output (an archive needs none) */
  store?: StoreLike;
  /** ssh outputs: the local store the chunks are staged in before they are pushed (default a temporary one) */
  cache?: string;
  /**
   * trees: the encoder cache directory (casync's --cache; see
   * tree/cached-make.ts): the next make of the tree reads only what changed,
   * and gives the same index.  As in casync, no archive digest is computed.
   */
  encoderCache?: string;
  /** trees: the encoder cache in the tree's own `.cacac` (casync's -c, --cache-auto) */
  encoderCacheAuto?: boolean;
  /** `[MIN:]AVG[:MAX]` with suffixes, or the three sizes (default 16K:64K:256K) */
  chunkSize?: string | ChunkSizes;
  digest?: DigestName;
  compression?: Compression;
  /** archives: the metadata kept (casync's --with/--without; a tar's default: TAR_FEATURE_FLAGS) */
  features?: FeatureOptions;
  /**
   * 'tar': the source (a path, '-' or bytes) is a tar stream, serialized as the
   * tree it holds (tree/encode-tar.ts).  Without it a source named *.tar,
   * *.tar.gz, *.tgz, *.tar.xz, *.txz, *.tar.zst, *.tzst or '-' is a tar when an
   * archive or archive index is made.
   */
  inputFormat?: 'tar';
  /** the store (given as a path or URL) keeps chunks encrypted, as desync does (see StoreChoice) */
  encryption?: StoreChoice['encryption'];
}

export interface MakeResult {
  what: MakeWhat;
  /** the digest `wasync make` prints: of the blob, or of the archive stream (hex); null with an encoder cache, as casync */
  digest: string | null;
  /** the index's or archive's feature flags, and the chunk sizes */
  flags: bigint;
  sizes: ChunkSizes;
  /** bytes of the blob or archive stream */
  size: number;
  chunks: number;
  /** chunks the store did not have yet, and their compressed bytes; where they went */
  stored: number;
  storedBytes: number;
  store: string | null;
  /** trees: entries archived */
  entries?: number;
  /** with an encoder cache: chunk ids taken from it and computed, files found changed, chunk recipes new to it */
  cache?: { path: string; hits: number; misses: number; invalidated: number; added: number; subtrees: number };
  /** the index or archive, when no `output` was given */
  bytes?: Uint8Array;
  /** ssh outputs: the chunks pushed with the index */
  pushed?: Pushed | null;
}

const TAR_NAME = /\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.zst|tar\.zstd|tzst)$/;

const isAsyncIterable = (v: unknown): v is AsyncIterable<Uint8Array> =>
  typeof (v as AsyncIterable<Uint8Array> | null)?.[Symbol.asyncIterator] === 'function';

/** Makes a blob index, an archive index or an archive (see MakeOptions). */
export async function make(o: MakeOptions): Promise<MakeResult> {
  checkAborted(o.signal);
  const output = o.output === undefined ? undefined : stripFileUrl(o.output);
  const bytes = o.source instanceof Uint8Array || isAsyncIterable(o.source);
  if (!bytes && typeof o.source !== 'string') throw usageError('make: `source` (a file, block device, directory, or bytes) is required');
  const source = bytes ? 'the bytes given' : stripFileUrl(o.source as string);
  if (o.inputFormat !== undefined && o.inputFormat !== 'tar') throw usageError(`--input-format=${o.inputFormat}: not one of tar`);
  const isDir = !bytes && source !== '-' && (statSync(source, { throwIfNoEntry: false })?.isDirectory() ?? false);
  const outName = output === undefined || output === '-' ? null : output;
  const tar = o.inputFormat === 'tar' || (!isDir && !bytes && (source === '-' || TAR_NAME.test(source)) && makesArchive(o.what, outName));
  if (tar && isDir) throw usageError(`${source} is a directory, not a tar (--input-format=tar)`);
  const tree = output === '-' ? 'archive' : 'archive-index';
  if (tar && !makesArchive(o.what, outName) && (o.what !== undefined || outName !== null)) {
    throw usageError(`${source}: a tar makes an archive (.catar) or archive index (.caidx), not a blob index`);
  }
  const what = resolveMake({ what: o.what, output: outName, source, isDir: isDir || tar, tree });
  if ((o.encoderCache !== undefined || o.encoderCacheAuto) && (what === 'blob-index' || tar)) {
    throw unsupported(tar ? 'make: the encoder cache (--cache, -c) is for directory trees, not tar input' : 'Caching only supported when archiving files trees.');
  }
  const m = new Making(o, output, what);
  let r: MakeResult;
  try {
    if (tar) r = await m.tree(bytes ? (o.source as Uint8Array | AsyncIterable<Uint8Array>) : source, true);
    else if (what !== 'blob-index') r = await m.tree(source);
    else r = await (bytes ? m.blobFromBytes(o.source as Uint8Array | AsyncIterable<Uint8Array>) : m.blobFile(source));
  } catch (e) {
    await m.close(true);
    throw e;
  }
  await m.close();
  return r;
}

/** One make: its settings, network, stores and executors, and what it leaves to close. */
class Making {
  readonly sizes: ChunkSizes;
  readonly digest: DigestName;
  readonly compression: Compression;
  private readonly net: Network;
  private readonly stores: OperationStores;
  private executors: Executors | null = null;
  private out: MadeOutput | null = null;

  constructor(
    private readonly o: MakeOptions,
    private readonly output: string | undefined,
    private readonly what: MakeWhat,
  ) {
    this.sizes = chunkSizes(o.chunkSize);
    this.digest = digestName(o.digest);
    this.compression = compressionName(o.compression);
    this.net = new Network(o);
    this.stores = new OperationStores(this.net);
  }

  async blobFile(path: string): Promise<MakeResult> {
    const input = openBlobInput(path);
    const progress = countedProgress(this.o, input.size, false);
    try {
      const { out, store, executors } = this.open(input.size, input.stat.mode & 0o666, true, true);
      const r = await makeBlob({
        input,
        size: input.size,
        sizes: this.sizes,
        digest: this.digest,
        store: store.graph,
        compression: this.compression,
        executor: executors.chunks,
        digestExecutor: executors.digest,
        writeIndex: (b) => {
          checkAborted(this.o.signal);
          return out.write(b);
        },
        progress: progress.buffer,
      });
      progress.end();
      return await this.finish(blobIndexFlags(this.digest), r, r.size, store.name);
    } finally {
      progress.stop();
      input.close();
    }
  }

  /** A blob that is not a file: its bytes go through a ring buffer, as a tree's stream does. */
  async blobFromBytes(source: Uint8Array | AsyncIterable<Uint8Array>): Promise<MakeResult> {
    const total = source instanceof Uint8Array ? source.length : null;
    const { out, store, executors } = this.open(total ?? Infinity, 0o666);
    const flags = blobIndexFlags(this.digest);
    const progress = countedProgress(this.o, total, false);
    try {
      const { pipeline, writer } = this.pipeline('the blob given as bytes', this.digest, store.graph, executors, true, progress.buffer, (ends, ids) =>
        out.write(encodeIndexItems(ends, ids)),
      );
      await out.write(encodeIndexPreamble({ flags, ...this.sizes }));
      for await (const piece of source instanceof Uint8Array ? [source] : source) {
        checkAborted(this.o.signal);
        if (!(piece instanceof Uint8Array)) throw usageError('make: the source iterable yielded something other than a Uint8Array');
        await writer.write(piece);
      }
      const totals = await pipeline.finish(writer.written);
      await out.write(encodeIndexTail(totals.chunks));
      progress.end();
      return await this.finish(flags, totals, writer.written, store.name);
    } finally {
      progress.stop();
    }
  }

  /** A directory, or (`tar`) the tree a tar holds: a path, '-' or its bytes. */
  async tree(root: string | Uint8Array | AsyncIterable<Uint8Array>, tar = false): Promise<MakeResult> {
    const chunked = this.what === 'archive-index';
    const flags = archiveFlags(this.o.features, this.digest, tar ? TAR_FEATURE_FLAGS : undefined);
    const linux = linuxFs();
    const name = typeof root !== 'string' ? 'the tar given as bytes' : root === '-' ? 'standard input' : root;
    const cacheDir = tar ? undefined : (this.o.encoderCache ?? (this.o.encoderCacheAuto ? join(root as string, '.cacac') : undefined));
    const cache = cacheDir === undefined ? null : new EncoderCacheDir(cacheDir, linux);
    if (cache && chunked) return this.cachedTree(root as string, flags, linux, cache);
    const { out, store, executors } = this.open(Infinity, 0o666, chunked);
    // Chunked: the bytes of chunks done, as the jobs count them; else the bytes written out.
    const counted = this.o.onProgress && chunked ? progressBuffer() : undefined;
    const { pipeline, writer } = this.pipeline(`${name} (archive stream)`, digestOfFlags(flags), store.graph, executors, chunked, counted, (ends, ids) =>
      out.write(encodeIndexItems(ends, ids)),
    );
    let total: number | null = null;
    const progress = new ProgressTicker(this.o, () => ({ done: counted ? readProgress(counted).done : writer.written, total }), counted);
    try {
      if (chunked) await out.write(encodeIndexPreamble({ flags, ...this.sizes }));
      const sink: CatarSink = {
        // Cancellation at each record write (once per file or so).
        write: (b) => {
          checkAborted(this.o.signal);
          return writer.write(b);
        },
        reserve: (n) => writer.reserve(n),
        commit: (n) => writer.commit(n),
      };
      const tree = tar
        ? await encodeTar({ source: root, file: name, featureFlags: flags, linux, sink })
        : await encodeTree({ root: root as string, featureFlags: flags, linux, linuxMissing: linux ? null : linuxFsUnavailable(), sink });
      const totals = await pipeline.finish(writer.written);
      if (chunked) await out.write(encodeIndexTail(totals.chunks));
      total = writer.written;
      progress.end();
      const made = await this.finish(flags, totals, tree.bytes, store.name);
      // casync computes no archive digest while a cache is in use (for a .catar, the cache has nothing to do).
      return { ...made, digest: cache ? null : made.digest, entries: tree.entries };
    } finally {
      progress.stop();
    }
  }

  /** An archive index made with an encoder cache (tree/cached-make.ts). */
  private async cachedTree(root: string, flags: bigint, linux: LinuxFs | null, cache: EncoderCacheDir): Promise<MakeResult> {
    const { out, store, executors } = this.open(Infinity, 0o666, true);
    const top = statSync(root, { bigint: true });
    const settings = { flags, sizes: this.sizes, digest: this.digest, rootDev: top.dev, rootIno: top.ino };
    const old = cache.load(settings, (m) => this.o.onWarning?.(m));
    const counted = this.o.onProgress ? progressBuffer() : undefined;
    let done = 0;
    let total: number | null = null;
    const progress = new ProgressTicker(this.o, () => ({ done: counted ? readProgress(counted).done : done, total }), counted);
    try {
      await out.write(encodeIndexPreamble({ flags, ...this.sizes }));
      const r = await makeCachedTree({
        root,
        flags,
        sizes: this.sizes,
        digest: this.digest,
        compression: this.compression,
        cache,
        old,
        linux,
        linuxMissing: linux ? null : linuxFsUnavailable(),
        store: store.object!,
        graph: store.graph!,
        pool: () => executors.chunks,
        parallelism: executors.parallelism,
        inline: executors.inline,
        writeIndex: (b) => out.write(b),
        checkAborted: () => checkAborted(this.o.signal),
        progress: counted,
      });
      await out.write(encodeIndexTail(r.chunks));
      done = total = r.size;
      progress.end();
      checkAborted(this.o.signal);
      cache.save(settings, r.files, r.layout, r.chunkKeys, r.added, old);
      const { bytes, pushed } = await this.out!.commit();
      const { hits, misses, invalidated, added, subtrees } = r;
      return {
        what: this.what, digest: null, flags, sizes: this.sizes, size: r.size, chunks: r.chunks, stored: r.stored,
        storedBytes: r.storedBytes, store: store.name, bytes, pushed, entries: r.entries,
        cache: { path: cache.dir, hits, misses, invalidated, added, subtrees },
      };
    } finally {
      progress.stop();
    }
  }

  /** Waits for the jobs still in flight (they may read the input or write the store), then releases. */
  async close(failed = false): Promise<void> {
    await this.executors?.close();
    if (failed) this.out?.abort();
    this.stores.close();
    await this.net.close();
  }

  /**
   * The output, the store chunks go to (none for an archive) and the executors.
   * `shareCaller`: a blob's calling thread only scans and digests, and waits
   * for the pool otherwise, so it runs chunk jobs too, in place of a worker
   * thread's start-up (make-blob.ts); a tree's calling thread encodes.
   */
  private open(bytes: number, mode: number, chunked = true, shareCaller = false) {
    const storeLoc = chunked ? (this.o.store ?? (this.output && this.output !== '-' ? defaultStoreFor(this.output) : undefined)) : undefined;
    const pushed = this.output !== undefined && classifyLocator(this.output) === 'ssh';
    if (chunked && pushed && typeof storeLoc !== 'string') {
      throw unsupported(`${this.output}: an index made on an ssh host takes its chunks to a store given as a path or [user@]host:path`);
    }
    const storeName = typeof storeLoc === 'string' ? stripFileUrl(storeLoc) : null;
    const out = (this.out = new MadeOutput(this.output, this.net, { mode, store: storeName, cache: this.o.cache ?? null }));
    const executors = (this.executors = new Executors(bytes, this.o.workers, shareCaller));
    const store = chunked ? this.chunkStore(out, storeLoc) : null;
    const graph = store && this.stores.graph(store, executors.parallelism);
    // Input and output open, nothing chunked yet: where casync says READY=1.
    this.o.notify?.({ state: 'ready' });
    return { out, store: { graph, name: store?.name ?? null, object: store }, executors };
  }

  /** Where new chunks go: an ssh push's staging store, else the store given or beside the output. */
  private chunkStore(out: MadeOutput, loc: StoreLike | undefined): WriteStore {
    if (out.chunkStore) {
      if (this.o.encryption) throw unsupported(`${this.output}: chunks pushed over ssh cannot be encrypted (casync's protocol has no place for them)`);
      return this.stores.writing(out.chunkStore, null);
    }
    if (typeof loc === 'string' && !isFailoverGroup(loc) && classifyLocator(stripFileUrl(loc)) === 'ssh') {
      throw unsupported(`${loc}: chunks can be pushed to an ssh store only with the index on the same host (make HOST:PATH.caidx), as with casync`);
    }
    if (loc === undefined) throw usageError('no chunk store: give --store=PATH (or `store`) when the index is not written to a file');
    return this.stores.writing(loc, null, this.o.encryption);
  }

  private pipeline(
    path: string,
    digest: DigestName,
    store: StoreGraph | null,
    executors: Executors,
    chunked: boolean,
    progress: SharedArrayBuffer | undefined,
    onChunks: (ends: number[], ids: Uint8Array) => Promise<void>,
  ) {
    const ring = new SharedArrayBuffer(ringSizeFor(this.sizes.max));
    const pipeline = new ChunkPipeline({
      input: { ring, path },
      sizes: this.sizes,
      digest,
      store,
      compression: this.compression,
      executor: executors.chunks,
      digestExecutor: executors.ordered,
      chunk: chunked,
      progress,
      onChunks: (ends, r) => onChunks(ends, r.ids),
    });
    const writer = new RingWriter(ring, pipeline, chunked ? undefined : (b) => this.out!.write(b));
    return { pipeline, writer };
  }

  private async finish(flags: bigint, totals: ChunkTotals, size: number, store: string | null): Promise<MakeResult> {
    // An abort during the last batch still leaves the output as it was.
    checkAborted(this.o.signal);
    if (!totals.digest) throw new WasyncError('EFORMAT', `${this.output ?? 'make'}: the stream was not digested`);
    const { bytes, pushed } = await this.out!.commit();
    const { chunks, stored, storedBytes } = totals;
    return { what: this.what, digest: toHex(totals.digest), flags, sizes: this.sizes, size, chunks, stored, storedBytes, store, bytes, pushed };
  }
}
