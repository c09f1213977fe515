// wasync extract [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] [PATH]

import { closeSync, fstatSync, ftruncateSync, openSync, realpathSync, statSync, type Stats } from 'node:fs';
import { WasyncError, ioError, usageError } from '../errors.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import type { IndexEntry, IndexHeader } from '../format/index-file.ts';
import { CHUNK_ID_SIZE } from '../format/constants.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { extractBlob, type ExtractBlobResult } from '../platform/node/pool/extract-blob.ts';
import type { FileRef } from '../platform/node/pool/jobs.ts';
import type { DigestName } from '../chunk/digest.ts';
import { rawBlockDeviceSize } from '../platform/node/io/blob-file.ts';
import type { ChunkList } from '../platform/node/seeds/seed-cache.ts';
import { AtomicFile } from '../platform/node/io/atomic-file.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { digestOf } from '../platform/node/stores/hash.ts';
import { writeStdout } from '../platform/node/io/stdout.ts';
import { formatBytes } from '../format/units.ts';
import { Log } from './log.ts';
import { classifyLocator, hasSuffix, stripFileUrl } from '../stores/locator.ts';
import { parseWhat, parseYesNo, type GlobalOptions, type What } from './options.ts';
import { readStores } from './stores.ts';
import { extractTreeCommand } from './extract-tree.ts';
import { RemoteContext } from './remote.ts';
import { fetchProgress } from './progress.ts';
import { ListBuilder, prepareSeeds, seedParams, seedsStale, type Seeds } from './seeds.ts';

const ZERO_ID_LIMIT = 16 << 20;

function operation(input: string | undefined, output: Stats | undefined, opts: GlobalOptions): What {
  let what = parseWhat(opts.what);
  if (what && !['archive', 'archive-index', 'blob-index'].includes(what)) {
    throw usageError('"extract" may only be combined with --what=archive, --what=archive-index or --what=blob-index');
  }
  if (!what && input !== undefined && input !== '-') {
    if (hasSuffix(input, '.catar')) what = 'archive';
    else if (hasSuffix(input, '.caidx')) what = 'archive-index';
    else if (hasSuffix(input, '.caibx')) what = 'blob-index';
    else throw usageError(`${input}: the file to read has no valid suffix (.catar, .caidx or .caibx); refusing`);
  }
  if (output?.isDirectory()) {
    if (what === 'blob-index') throw usageError('the output is a directory, but a blob index is being extracted; refusing');
    what ??= 'archive-index';
  } else if (output && (output.isFile() || output.isBlockDevice())) {
    if (what && what !== 'blob-index') throw usageError('the output is a regular file or block device, but an archive is being extracted; refusing');
    what ??= 'blob-index';
  } else if (output) {
    throw usageError('the output is neither a directory, a regular file nor a block device; refusing');
  }
  if (!what) throw usageError('cannot tell what to extract; use --what=archive, --what=archive-index or --what=blob-index');
  return what;
}

export async function extract(inputArg: string | undefined, outputArg: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  const input = inputArg === undefined ? undefined : stripFileUrl(inputArg);
  const output = outputArg === undefined || outputArg === '-' ? null : stripFileUrl(outputArg);
  if (output !== null && classifyLocator(output) !== 'path') throw usageError(`${output}: the output must be a local path`);
  const outStat = output === null ? undefined : statSync(output, { throwIfNoEntry: false });
  const what = operation(input, outStat, opts);
  const source = input === undefined || input === '-' ? null : input;
  const remote = new RemoteContext(opts);
  if (what === 'archive' || what === 'archive-index') {
    return extractTreeCommand(what, source, output ?? '.', opts, log, remote);
  }
  const indexLoc = source;
  const seedOutput = parseYesNo('seed-output', opts.seedOutput, true);
  const stores = readStores(opts, indexLoc, true);
  const index = await remote.openIndex(indexLoc, stores);
  const knownSize = index.blobSize;
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const digest = digestOfFlags(header.flags);
  const executors = new Executors(knownSize ?? Infinity);

  const seedPaths = [...(opts.seed ?? [])];
  if (output !== null && outStat && seedOutput) seedPaths.push(output);
  let seeds: Seeds | null = null;
  let target: AtomicFile | null = null;
  let device: FileRef | null = null;
  let stopProgress = (_ok: boolean) => {};
  // The output's chunks are the index's: remembered as a seed for the next update
  // (up to a million chunks, 40 MB; 64 GiB at the default sizes).
  const outputList = new ListBuilder(1 << 20);
  const listed = async function* () {
    for await (const batch of entries) {
      outputList.add(batch.map((e) => e.offset + e.size), packIds(batch));
      yield batch;
    }
  };
  try {
    seeds = await prepareSeeds(seedPaths, { header, digest, executor: executors.chunks, log });
    if (outStat?.isBlockDevice()) {
      device = openDevice(output as string, knownSize);
    } else if (output !== null) {
      // Through a symlink, the file it points to is what gets replaced.
      target = new AtomicFile(outStat ? realpathSync(output) : output);
      if (outStat) target.chmod(outStat.mode & 0o7777);
    }
    const out = device ?? (target ? { fd: target.fd, path: output as string } : null);
    const { progress, onBatch } = fetchProgress(opts.progress, 'extract', knownSize);
    stopProgress = (ok) => progress.stop(ok);
    const result = await extractBlob({
      entries: listed(),
      digest,
      stores,
      remote: remote.config(executors.chunks.parallelism),
      seeds: seeds.index,
      seedFiles: seeds.files,
      out,
      holes: target !== null,
      compareOutput: device !== null,
      zeroIds: zeroIds(header, digest),
      executor: executors.chunks,
      onData: writeStdout,
      onWarning: (w) => log.warn(w),
      onBatch,
    });
    if (target) {
      ftruncateSync(target.fd, result.size);
      target.commit();
    }
    stopProgress(true);
    if (result.seedMisses) seedsStale(seeds, log);
    const list = outputList.finish();
    if (output !== null && list) rememberOutput(seeds, output, header, digest, list);
    report(log, result);
  } catch (e) {
    stopProgress(false);
    target?.abort();
    throw e;
  } finally {
    seeds?.close();
    if (device) closeSync(device.fd);
    await executors.close();
    await remote.close();
  }
}

/** Records the freshly written output (file or device) in the seed index. */
function rememberOutput(seeds: Seeds, output: string, header: IndexHeader, digest: DigestName, list: ChunkList) {
  if (!seeds.cache) return;
  const fd = openSync(output, 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    const size = list.ends.length ? list.ends[list.ends.length - 1] : 0;
    seeds.cache.saveBlob(seeds.cache.key('blob', output, seedParams(header, digest, false)), size, st, list);
  } finally {
    closeSync(fd);
  }
}

function packIds(batch: IndexEntry[]): Uint8Array {
  const ids = new Uint8Array(batch.length * CHUNK_ID_SIZE);
  batch.forEach((e, i) => ids.set(e.id, i * CHUNK_ID_SIZE));
  return ids;
}

function openDevice(path: string, blobSize: number | null): FileRef {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (e) {
    throw ioError('EOUTPUT', path, e);
  }
  const ref = { fd, path };
  const capacity = rawBlockDeviceSize(ref, fstatSync(fd));
  if (blobSize !== null && blobSize > capacity) {
    closeSync(fd);
    throw new WasyncError('EOUTPUT', `${path}: the blob (${blobSize} bytes) does not fit on the device (${capacity} bytes)`);
  }
  return ref;
}

/** Ids of all-zero chunks of the sizes zero runs are cut into (max; fixed size). */
export function zeroIds(h: IndexHeader, digest: DigestName): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  if (h.max <= ZERO_ID_LIMIT) m.set(h.max, digestOf(digest, new Uint8Array(h.max)));
  return m;
}

function report(log: Log, r: ExtractBlobResult) {
  log.info(`Zero bytes written as sparse files: ${formatBytes(r.zeroBytes)}`);
  if (r.unchanged) log.info(`Chunks already in place: ${r.unchanged} (${formatBytes(r.unchangedBytes)})`);
  log.sources(r);
}
