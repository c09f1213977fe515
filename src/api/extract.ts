// extract(): a blob index reassembled into a file (written under a temporary
// name and renamed into place, zero chunks left as holes), a block device
// (written in place, chunks already right skipped) or a callback; an archive
// index or archive recreated as a directory tree.  Chunks come from seeds first
// (the existing output, unless seedOutput is false, and `seeds`), then from the
// stores in order, each checked against its id.  The engine is the command
// line's (extractBlob, TreeStream, prepareSeeds); options are values here, not
// strings, and nothing is printed: warnings go to onWarning.

import { closeSync, createReadStream, ftruncateSync, openSync, realpathSync, statSync } from 'node:fs';
import { WasyncError, ioError, usageError } from '../errors.ts';
import { CA_FORMAT_INDEX } from '../format/constants.ts';
import { CA_FORMAT_SUPPORTED_WITH_MASK, CA_FORMAT_WITH_MASK, digestOfFlags, replayFeatureFlags } from '../format/feature-flags.ts';
import { combineFeatureFlags } from '../format/feature-flag-names.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { extractBlob } from '../platform/node/pool/extract-blob.ts';
import { emptyFetchStats, type FetchStats, type FileRef } from '../platform/node/pool/jobs.ts';
import { zeroIds } from '../cli/extract.ts';
import { prepareSeeds, type Seeds } from '../cli/seeds.ts';
import type { Log } from '../cli/log.ts';
import { AtomicFile } from '../platform/node/io/atomic-file.ts';
import { openIndexInput } from '../platform/node/io/index-input.ts';
import { linuxFs, linuxFsUnavailable } from '../platform/node/linux/index.ts';
import type { UidShift } from '../platform/node/tree/apply-metadata.ts';
import type { ExtractTreeOptions } from '../platform/node/tree/extract-tree.ts';
import { TreeStream } from '../platform/node/tree/tree-stream.ts';
import { hasSuffix, stripFileUrl } from '../stores/locator.ts';
import { abortable, checkAborted, executorsFor, type FeatureOptions, type OperationOptions, type ProgressReport } from './common.ts';
import { bindStores, storesOrDefault, type RemoteOptions, type StoreLike } from './stores.ts';

export type ExtractWhat = 'blob-index' | 'archive-index' | 'archive';

export interface ExtractOptions extends OperationOptions, RemoteOptions {
  /** a .caibx, .caidx or .catar file, or its bytes */
  input: string | Uint8Array;
  /** what `input` is; default: from its suffix, or from its bytes (an index without metadata flags is a blob index) */
  what?: ExtractWhat;
  /** the file or block device (blobs) or directory (trees) to write; blobs may go to onData instead */
  output?: string;
  /** blobs without `output`: the bytes, in order */
  onData?(bytes: Uint8Array): void | Promise<void>;
  /** tried in order; default: default.castr beside the index file */
  stores?: StoreLike | StoreLike[];
  /** files, block devices or (trees) directories holding data to reuse */
  seeds?: string[];
  /** use the existing output as a seed (default true) */
  seedOutput?: boolean;
  /** warnings (a corrupt copy replaced by another store's, owners left as they are, …) */
  onWarning?(message: string): void;
  /** trees: metadata to restore (casync's --with/--without names; the exclude options do not apply) */
  features?: Pick<FeatureOptions, 'with' | 'without'>;
  /** trees: remove what the archive does not list (default true) */
  delete?: boolean;
  /** trees: clear +i on what has to be replaced or removed (default false) */
  undoImmutable?: boolean;
  /** trees: leave runs of zeros as holes (default true) */
  punchHoles?: boolean;
  /** trees: clone seed data with FICLONERANGE where the file system can (default true) */
  reflink?: boolean;
  /** trees: hard-link seed files identical to the archived ones (default false) */
  hardlink?: boolean;
  /** trees: shift owners by `shift` and confine them to `range` ids (casync's --uid-shift, --uid-range) */
  uidShift?: UidShift | null;
}

export interface ExtractResult {
  what: ExtractWhat;
  /** bytes of the blob or archive stream */
  size: number;
  chunks: number;
  /** trees: entries created */
  entries?: number;
  /** where the chunks came from (counts and bytes) */
  sources: FetchStats;
}

/** The stores' messages go to onWarning; the seeds' statistics nowhere. */
const quietLog = (o: ExtractOptions) => ({ verbose: false, info() {}, warn: (m: string) => o.onWarning?.(m) }) as unknown as Log;

function whatOf(o: ExtractOptions): ExtractWhat {
  if (o.what !== undefined) {
    if (!['blob-index', 'archive-index', 'archive'].includes(o.what)) throw usageError(`what ${o.what}: not one of blob-index, archive-index, archive`);
    return o.what;
  }
  if (typeof o.input === 'string') {
    if (hasSuffix(o.input, '.caibx')) return 'blob-index';
    if (hasSuffix(o.input, '.caidx')) return 'archive-index';
    if (hasSuffix(o.input, '.catar')) return 'archive';
    throw usageError(`${o.input}: the file to read has no valid suffix (.catar, .caidx or .caibx); refusing`);
  }
  const v = new DataView(o.input.buffer, o.input.byteOffset, o.input.byteLength);
  if (o.input.length < 24 || v.getBigUint64(8, true) !== CA_FORMAT_INDEX) return 'archive';
  return v.getBigUint64(16, true) & CA_FORMAT_WITH_MASK ? 'archive-index' : 'blob-index';
}

/** The index as a byte stream: its file, or the bytes given. */
function indexBytes(o: ExtractOptions): { name: string; bytes: AsyncIterable<Uint8Array>; size: number | null } {
  if (typeof o.input === 'string') {
    const i = openIndexInput(stripFileUrl(o.input));
    return { name: i.name, bytes: i.bytes, size: i.blobSize };
  }
  const b = o.input;
  return { name: 'index', bytes: (async function* () { yield b; })(), size: null };
}

/** Extracts a blob or a tree (see ExtractOptions). */
export async function extract(o: ExtractOptions): Promise<ExtractResult> {
  checkAborted(o.signal);
  if (typeof o.input !== 'string' && !(o.input instanceof Uint8Array)) throw usageError('extract: `input` (a path or the bytes of an index or archive) is required');
  const what = whatOf(o);
  return what === 'blob-index' ? extractBlobIndex(o) : extractTree(o, what);
}

/** Progress from extractBlob's batches. */
function progressOf(o: ExtractOptions, total: number | null) {
  const done: ProgressReport & { sources: FetchStats } = { done: 0, total, sources: emptyFetchStats() };
  return (bytes: number, stats: FetchStats) => {
    done.done += bytes;
    for (const k of Object.keys(stats) as (keyof FetchStats)[]) done.sources[k] += stats[k];
    o.onProgress?.({ ...done, sources: { ...done.sources } });
  };
}

const indexPath = (o: ExtractOptions) => (typeof o.input === 'string' ? stripFileUrl(o.input) : null);

async function extractBlobIndex(o: ExtractOptions): Promise<ExtractResult> {
  if (o.output === undefined && !o.onData) throw usageError('extract: a blob needs `output` or `onData`');
  const output = o.output === undefined ? undefined : stripFileUrl(o.output);
  const outStat = output === undefined ? undefined : statSync(output, { throwIfNoEntry: false });
  if (outStat && !outStat.isFile() && !outStat.isBlockDevice()) throw usageError(`${output}: neither a regular file nor a block device; refusing`);
  const index = indexBytes(o);
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const digest = digestOfFlags(header.flags);
  const executors = executorsFor(index.size ?? Infinity, o.workers);
  const stores = bindStores(storesOrDefault(o.stores, indexPath(o)), o);
  const seedPaths = [...(o.seeds ?? [])];
  if (output !== undefined && outStat && o.seedOutput !== false) seedPaths.push(output);
  let seeds: Seeds | null = null;
  let file: AtomicFile | null = null;
  let device: FileRef | null = null;
  try {
    seeds = await prepareSeeds(seedPaths, { header, digest, executor: executors.chunks, log: quietLog(o) });
    if (outStat?.isBlockDevice()) {
      try {
        device = { fd: openSync(output!, 'r+'), path: output! };
      } catch (e) {
        throw ioError('EOUTPUT', output!, e);
      }
    } else if (output !== undefined) {
      // Through a symlink, the file it points to is what gets replaced.
      file = new AtomicFile(outStat ? realpathSync(output) : output, 0o666, false);
      if (outStat) file.chmod(outStat.mode & 0o7777);
    }
    const out = device ?? (file ? { fd: file.fd, path: output! } : null);
    const r = await extractBlob({
      entries: abortable(entries, o.signal),
      digest,
      stores: stores.locators,
      remote: stores.remote(executors.chunks.parallelism),
      seeds: seeds.index,
      seedFiles: seeds.files,
      out,
      holes: file !== null,
      compareOutput: device !== null,
      zeroIds: zeroIds(header, digest),
      executor: executors.chunks,
      onData: out ? undefined : (b) => o.onData!(b),
      onWarning: (w) => o.onWarning?.(w),
      onBatch: progressOf(o, index.size),
    });
    // An abort during the last batch still leaves the output as it was.
    checkAborted(o.signal);
    if (file) {
      ftruncateSync(file.fd, r.size);
      file.commit();
    }
    const { size, chunks, ...sources } = r;
    return { what: 'blob-index', size, chunks, sources };
  } catch (e) {
    // The jobs write into the temporary file: they end before it goes.
    await executors.close();
    file?.abort();
    throw e;
  } finally {
    // Jobs still in flight may be reading seeds or waiting on a relayed store.
    await executors.close();
    seeds?.close();
    if (device) closeSync(device.fd);
    stores.close();
  }
}

async function extractTree(o: ExtractOptions, what: 'archive-index' | 'archive'): Promise<ExtractResult> {
  if (o.output === undefined) throw usageError('extract: a tree needs `output` (the directory to create or update)');
  const target = stripFileUrl(o.output);
  const linux = linuxFs();
  if (!linux) throw new WasyncError('EUNSUPPORTED', `extracting directory trees needs the Linux adapter: ${linuxFsUnavailable()}`);
  const mask = combineFeatureFlags({ with: o.features?.with ?? [], without: o.features?.without ?? [], digest: 'sha512-256' }, CA_FORMAT_SUPPORTED_WITH_MASK);
  const options: ExtractTreeOptions = {
    target,
    linux,
    replayFlags: (archive) => replayFeatureFlags(archive, mask),
    deleteExtra: o.delete ?? true,
    undoImmutable: o.undoImmutable ?? false,
    punchHoles: o.punchHoles ?? true,
    reflink: o.reflink ?? true,
    hardlinkSeeds: null,
    uidShift: o.uidShift ?? null,
    warn: (m) => o.onWarning?.(m),
  };
  if (what === 'archive') return extractArchive(o, options);
  const index = indexBytes(o);
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const executors = executorsFor(index.size ?? Infinity, o.workers);
  const stores = bindStores(storesOrDefault(o.stores, indexPath(o)), o);
  options.executor = executors.chunks;
  let tree: TreeStream;
  try {
    tree = new TreeStream(`${index.name} (archive stream)`, header.flags, options);
  } catch (e) {
    await executors.close();
    stores.close();
    throw e;
  }
  const digest = digestOfFlags(header.flags);
  const seedPaths = [...(o.seeds ?? [])];
  if (o.seedOutput !== false && statSync(target, { throwIfNoEntry: false })?.isDirectory()) seedPaths.push(target);
  let seeds: Seeds | null = null;
  try {
    seeds = await prepareSeeds(seedPaths, { header, digest, executor: executors.chunks, log: quietLog(o), trees: { linux }, lenient: true });
    if (o.hardlink) options.hardlinkSeeds = [...seeds.trees.values()];
    const r = await extractBlob({
      entries: abortable(entries, o.signal),
      digest,
      stores: stores.locators,
      remote: stores.remote(executors.chunks.parallelism),
      seeds: seeds.index,
      seedFiles: seeds.files,
      seedTrees: seeds.trees,
      executor: executors.chunks,
      onData: (b, origins) => tree.push(b, origins),
      onWarning: (w) => o.onWarning?.(w),
      onBatch: progressOf(o, index.size),
    });
    checkAborted(o.signal);
    await tree.end();
    const { size, chunks, ...sources } = r;
    return { what, size, chunks, entries: tree.entries, sources };
  } catch (e) {
    // The jobs write files under temporary names: they end before those go.
    await executors.close();
    tree.abort();
    throw e;
  } finally {
    // Jobs still in flight may be reading seeds or waiting on a relayed store.
    await executors.close();
    seeds?.close();
    stores.close();
  }
}

/** A .catar (file or bytes), decoded as it is read. */
async function extractArchive(o: ExtractOptions, options: ExtractTreeOptions): Promise<ExtractResult> {
  const name = typeof o.input === 'string' ? stripFileUrl(o.input) : 'archive';
  const executors = executorsFor(Infinity, o.workers);
  options.executor = executors.chunks;
  let tree: TreeStream;
  try {
    tree = new TreeStream(name, undefined, options);
  } catch (e) {
    await executors.close();
    throw e;
  }
  let done = 0;
  const total = typeof o.input === 'string' ? (statSync(name, { throwIfNoEntry: false })?.size ?? null) : o.input.length;
  try {
    const pieces: AsyncIterable<Uint8Array> =
      typeof o.input === 'string' ? createReadStream(name, { highWaterMark: 1 << 20 }) : (async function* (b) { yield b; })(o.input);
    for await (const piece of pieces) {
      checkAborted(o.signal);
      await tree.push(piece);
      done += piece.length;
      o.onProgress?.({ done, total });
    }
    await tree.end();
  } catch (e) {
    // The jobs write files under temporary names: they end before those go.
    await executors.close();
    tree.abort();
    throw e instanceof WasyncError || o.signal?.aborted ? e : ioError('EINPUT', name, e);
  } finally {
    await executors.close();
  }
  return { what: 'archive', size: done, chunks: 0, entries: tree.entries, sources: emptyFetchStats() };
}
