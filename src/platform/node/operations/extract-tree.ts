// extract() of a tree: a .catar is decoded as it is read (a file, standard
// input, a URL, an ssh location or bytes); a .caidx is reassembled from seeds
// and stores by the worker threads (verified chunk by chunk) and decoded on
// this thread in order, its small files written by the workers.  Every entry is
// created relative to an open directory, under a temporary name, and renamed
// into place (tree/extract-tree.ts).

import { createReadStream, statSync } from 'node:fs';
import { WasyncError, ioError, networkError, usageError } from '../../../errors.ts';
import { CA_FORMAT_SUPPORTED_WITH_MASK, replayFeatureFlags } from '../../../format/feature-flags.ts';
import { combineFeatureFlags } from '../../../format/feature-flag-names.ts';
import { classifyLocator, stripFileUrl } from '../../../stores/locator.ts';
import { linuxFs, linuxFsUnavailable } from '../linux/index.ts';
import { checkSignedFile, trustPolicy } from '../trust/signed-input.ts';
import { Executors } from '../pool/executors.ts';
import { emptyFetchStats } from '../pool/jobs.ts';
import type { ExtractTreeOptions } from '../tree/extract-tree.ts';
import { TreeStream } from '../tree/tree-stream.ts';
import { ProgressTicker, checkAborted, countedProgress } from './common.ts';
import type { ExtractOptions, ExtractResult } from './extract.ts';
import { Extraction } from './extraction.ts';
import { Network } from './network.ts';

export async function extractTree(o: ExtractOptions, what: 'archive-index' | 'archive'): Promise<ExtractResult> {
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
  return what === 'archive' ? extractArchive(o, options) : extractArchiveIndex(o, options, target);
}

async function extractArchiveIndex(o: ExtractOptions, options: ExtractTreeOptions, target: string): Promise<ExtractResult> {
  const seeds = [...(o.seeds ?? [])];
  if (o.seedOutput !== false && statSync(target, { throwIfNoEntry: false })?.isDirectory()) seeds.push(target);
  // The decoding thread takes jobs too: it waits for them half the time, and one
  // thread fewer compiles and collects (less CPU and RSS, the same wall time).
  const ex = await Extraction.open({ ...o, index: o.input, stores: o, network: o, seeds, trees: options.linux, announceReady: true, trust: o, shareCaller: true });
  options.executor = ex.executors.chunks;
  if (o.hardlink) options.hardlinkSeeds = [...ex.seeds.trees].map(([n, map]) => ({ root: seeds[n], map }));
  let tree: TreeStream | null = null;
  // (Bytes count as the jobs assemble them, a few batches ahead of the files written from them.)
  const progress = countedProgress(o, ex.blobSize, true);
  try {
    const t = (tree = new TreeStream(`${ex.name} (archive stream)`, ex.header.flags, options));
    // One batch ahead per thread: the decoder takes them one by one on this thread, so more
    // only held memory (about 25 MiB less peak RSS on a copy of /usr/share, CPU and speed unchanged).
    const r = await ex.run({ seedTrees: ex.seeds.trees, onData: (b, origins) => t.push(b, origins), reuseData: true, depthPerThread: 1, progress: progress.buffer });
    progress.end();
    checkAborted(o.signal);
    await t.end();
    const { size, chunks, clonedBytes: _fromBlobs, ...sources } = r;
    const staleSeeds = ex.settle(r);
    // As casync: each count only where its option is on.
    const clonedBytes = options.reflink ? t.clonedBytes : undefined;
    const linkedBytes = o.hardlink ? t.linkedBytes : undefined;
    return { what: 'archive-index', size, chunks, entries: t.entries, clonedBytes, linkedBytes, sources, seeds: ex.seeds.reports, seedChunks: ex.seeds.index.size, staleSeeds };
  } catch (e) {
    // The jobs write files under temporary names: they end before those go.
    await ex.executors.close();
    await tree?.abort();
    throw e;
  } finally {
    progress.stop();
    await ex.close();
  }
}

/** A .catar, decoded as it is read. */
async function extractArchive(o: ExtractOptions, options: ExtractTreeOptions): Promise<ExtractResult> {
  const source = archiveSource(o);
  const executors = new Executors(Infinity, o.workers);
  const net = new Network(o);
  options.executor = executors.chunks;
  const tree = new TreeStream(source.name, undefined, options);
  let size: number;
  try {
    size = await feedArchive(o, source, net, tree);
  } catch (e) {
    // The jobs write files under temporary names: they end before those go.
    await executors.close();
    await tree.abort();
    throw e;
  } finally {
    await executors.close();
    await net.close();
  }
  return { what: 'archive', size, chunks: 0, entries: tree.entries, clonedBytes: tree.clonedBytes, linkedBytes: tree.linkedBytes, sources: emptyFetchStats(), seeds: [], seedChunks: 0, staleSeeds: false };
}

export interface ArchiveSource {
  /** a path or locator; null: standard input or bytes */
  input: string | null;
  /** for messages */
  name: string;
  /** bytes, when known before reading (bytes given, a local file) */
  total: number | null;
}

/** Where extract's .catar comes from. */
export function archiveSource(o: ExtractOptions): ArchiveSource {
  const input = typeof o.input === 'string' && o.input !== '-' ? stripFileUrl(o.input) : null;
  const name = o.input instanceof Uint8Array ? 'archive' : (input ?? 'standard input');
  const local = input !== null && classifyLocator(input) === 'path';
  const total = o.input instanceof Uint8Array ? o.input.length : local ? (statSync(input, { throwIfNoEntry: false })?.size ?? null) : null;
  return { input, name, total };
}

/** The .catar's bytes (its signature checked first, if asked), handed to `push` in order. */
/**
 * Reads the archive into `sink` and ends it, with the progress of its bytes and
 * the ready notice extract gives; the bytes read.  Tree and tar extraction alike.
 */
export async function feedArchive(o: ExtractOptions, a: ArchiveSource, net: Network, sink: { push(piece: Uint8Array): Promise<void>; end(): Promise<void> }): Promise<number> {
  let done = 0;
  const progress = new ProgressTicker(o, () => ({ done, total: a.total }));
  o.notify?.({ state: 'ready' });
  try {
    await readArchive(o, a, net, async (piece) => {
      checkAborted(o.signal);
      await sink.push(piece);
      done += piece.length;
    });
    await sink.end();
  } finally {
    progress.stop();
  }
  progress.end();
  return done;
}

async function readArchive(o: ExtractOptions, a: ArchiveSource, net: Network, push: (piece: Uint8Array) => Promise<void>): Promise<void> {
  const input = a.input;
  try {
    await checkSignedFile(o.input instanceof Uint8Array ? o.input : input, trustPolicy(o), net.client, o.signature);
    if (o.input instanceof Uint8Array) await push(o.input);
    else if (input !== null && classifyLocator(input) === 'ssh') for await (const piece of net.ssh.openArchive(input)) await push(piece);
    else if (input !== null && classifyLocator(input) !== 'path') {
      if (!(await net.client.stream(input, push))) throw networkError(`${input}: not found (404)`);
    } else for await (const piece of input === null ? process.stdin : createReadStream(input, { highWaterMark: 1 << 20 })) await push(piece as Buffer);
  } catch (e) {
    throw e instanceof WasyncError || o.signal?.aborted ? e : ioError('EINPUT', a.name, e);
  }
}
