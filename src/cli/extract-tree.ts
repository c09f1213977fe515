// wasync extract X.catar|X.caidx [DIR]: recreates a directory tree.  A .catar is
// decoded as it is read; a .caidx is reassembled from seeds and stores by the
// worker threads (verified chunk by chunk) and decoded on this thread in order.

import { createReadStream, statSync } from 'node:fs';
import { usageError, ioError, networkError, WasyncError } from '../errors.ts';
import { digestOfFlags, replayFeatureFlags, CA_FORMAT_SUPPORTED_WITH_MASK } from '../format/feature-flags.ts';
import { combineFeatureFlags } from '../format/feature-flag-names.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { extractBlob } from '../platform/node/pool/extract-blob.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { linuxFs, linuxFsUnavailable } from '../platform/node/linux/index.ts';
import type { ExtractTreeOptions } from '../platform/node/tree/extract-tree.ts';
import { TreeStream } from '../platform/node/tree/tree-stream.ts';
import type { UidShift } from '../platform/node/tree/apply-metadata.ts';
import type { Log } from './log.ts';
import { formatBytes } from '../format/units.ts';
import { parseYesNo, type GlobalOptions } from './options.ts';
import { readStores } from './stores.ts';
import type { RemoteContext } from './remote.ts';
import { Progress, fetchProgress, progressMode } from './progress.ts';
import { prepareSeeds, seedsStale, type Seeds } from './seeds.ts';
import { classifyLocator } from '../stores/locator.ts';

export async function extractTreeCommand(
  what: 'archive' | 'archive-index',
  input: string | null,
  target: string,
  opts: GlobalOptions,
  log: Log,
  remote: RemoteContext,
) {
  const linux = linuxFs();
  if (!linux) {
    throw new WasyncError('EUNSUPPORTED', `extracting directory trees needs the Linux adapter: ${linuxFsUnavailable()}`);
  }
  const mask = combineFeatureFlags(
    { with: opts.with ?? [], without: opts.without ?? [], digest: 'sha512-256' },
    CA_FORMAT_SUPPORTED_WITH_MASK,
  );
  const options: ExtractTreeOptions = {
    target,
    linux,
    replayFlags: (archive) => replayFeatureFlags(archive, mask),
    deleteExtra: parseYesNo('delete', opts.delete, true),
    undoImmutable: parseYesNo('undo-immutable', opts.undoImmutable, false),
    punchHoles: parseYesNo('punch-holes', opts.punchHoles, true),
    reflink: parseYesNo('reflink', opts.reflink, true),
    hardlinkSeeds: null,
    uidShift: uidShift(opts),
    warn: (m) => log.warn(m),
  };
  if (what === 'archive') {
    const name = input ?? 'standard input';
    const executors = new Executors(Infinity);
    options.executor = executors.chunks;
    const tree = new TreeStream(name, undefined, options);
    const local = input !== null && classifyLocator(input) === 'path';
    let done = 0;
    const total = local ? (statSync(input, { throwIfNoEntry: false })?.size ?? null) : null;
    const progress = new Progress(progressMode(opts.progress), 'extract', () => ({ done, total }));
    const push = (piece: Uint8Array) => {
      done += piece.length;
      return tree.push(piece);
    };
    try {
      if (input !== null && classifyLocator(input) === 'ssh') {
        for await (const piece of remote.ssh.openArchive(input)) await push(piece);
      } else if (input !== null && !local) {
        if (!(await remote.client.stream(input, push))) throw networkError(`${input}: not found (404)`);
      } else {
        const bytes = input === null ? process.stdin : createReadStream(input, { highWaterMark: 1 << 20 });
        for await (const chunk of bytes) await push(chunk as Buffer);
      }
      await tree.end();
      progress.stop(true);
    } catch (e) {
      progress.stop(false);
      throw e instanceof WasyncError ? e : ioError('EINPUT', name, e);
    } finally {
      await executors.close();
      await remote.close();
    }
    log.info(`Extracted ${tree.entries} entries into ${target}`);
    return;
  }
  const stores = readStores(opts, input, true);
  const index = await remote.openIndex(input, stores);
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const executors = new Executors(index.blobSize ?? Infinity);
  options.executor = executors.chunks;
  const tree = new TreeStream(`${index.name} (archive stream)`, header.flags, options);
  const digest = digestOfFlags(header.flags);
  const seedPaths = [...(opts.seed ?? [])];
  if (parseYesNo('seed-output', opts.seedOutput, true) && statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    seedPaths.push(target);
  }
  let seeds: Seeds | null = null;
  let stopProgress = (_ok: boolean) => {};
  try {
    seeds = await prepareSeeds(seedPaths, { header, digest, executor: executors.chunks, log, trees: { linux }, lenient: true });
    const seedTrees = seeds.trees;
    if (parseYesNo('hardlink', opts.hardlink, false)) options.hardlinkSeeds = [...seedTrees.values()];
    const { progress, onBatch } = fetchProgress(opts.progress, 'extract', index.blobSize);
    stopProgress = (ok) => progress.stop(ok);
    const r = await extractBlob({
      entries,
      digest,
      stores,
      remote: remote.config(executors.chunks.parallelism),
      seeds: seeds.index,
      seedFiles: seeds.files,
      seedTrees,
      executor: executors.chunks,
      onData: (b, origins) => tree.push(b, origins),
      onWarning: (w) => log.warn(w),
      onBatch,
    });
    await tree.end();
    stopProgress(true);
    if (r.seedMisses) seedsStale(seeds, log);
    log.info(`Extracted ${tree.entries} entries into ${target}`);
    log.sources(r);
    log.info(`Bytes cloned through reflinks: ${formatBytes(tree.clonedBytes)}`);
    log.info(`Bytes cloned through hardlinks: ${formatBytes(tree.linkedBytes)}`);
  } catch (e) {
    stopProgress(false);
    throw e;
  } finally {
    seeds?.close();
    await executors.close();
    await remote.close();
  }
}

/** --uid-shift=yes|no|SHIFT and --uid-range=N (1..2^32), casync's semantics. */
function uidShift(opts: GlobalOptions): UidShift | null {
  let apply = false;
  let shift = 0;
  let range = 0x10000;
  if (opts.uidShift !== undefined) {
    if (/^\d+$/.test(opts.uidShift)) {
      shift = Number(opts.uidShift);
      if (shift > 0xfffffffe) throw usageError(`--uid-shift=${opts.uidShift}: not a valid uid`);
      apply = true;
    } else apply = parseYesNo('uid-shift', opts.uidShift, false);
  }
  if (opts.uidRange !== undefined) {
    const n = /^\d+$/.test(opts.uidRange) ? Number(opts.uidRange) : NaN;
    if (n >= 1 && n <= 2 ** 32) {
      range = n === 2 ** 32 ? 0 : n;
      apply = true;
    } else apply = parseYesNo('uid-range', opts.uidRange, false);
  }
  return apply ? { shift, range } : null;
}
