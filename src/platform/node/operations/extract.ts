// extract(): a blob index reassembled into a file (written under a temporary
// name and renamed into place, zero chunks left as holes), a block device
// (written in place, chunks already right skipped) or a callback (standard
// output, bytes in memory); an archive index or archive recreated as a
// directory tree (extract-tree.ts) or written as a tar stream (extract-tar.ts).  Chunks come from seeds first (the
// existing output, unless seedOutput is false, and `seeds`), then from the
// stores in order, each checked against its id.  An extracted file's chunk list
// goes into the persistent seed index, so the next update from it chunks
// nothing.

import { closeSync, fstatSync, ftruncateSync, openSync, realpathSync, statSync } from 'node:fs';
import { WasyncError, ioError, usageError } from '../../../errors.ts';
import { CA_FORMAT_INDEX, CHUNK_ID_SIZE } from '../../../format/constants.ts';
import { CA_FORMAT_WITH_MASK } from '../../../format/feature-flags.ts';
import type { IndexEntry } from '../../../format/index-file.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { AtomicFile } from '../io/atomic-file.ts';
import { linuxFs } from '../linux/index.ts';
import { rawBlockDeviceSize } from '../io/blob-file.ts';
import type { FetchStats, FileRef } from '../pool/jobs.ts';
import { ListBuilder, rememberBlob, seedParams, type SeedReport } from '../seeds/prepare-seeds.ts';
import type { UidShift } from '../tree/apply-metadata.ts';
import { checkAborted, countedProgress, type FeatureOptions, type OperationOptions } from './common.ts';
import { Extraction } from './extraction.ts';
import { extractTree } from './extract-tree.ts';
import { extractTar } from './extract-tar.ts';
import type { NetworkOptions } from './network.ts';
import { resolveExtract, type MadeWhat } from './resolve.ts';
import type { StoreChoice } from './stores.ts';
import type { TrustOptions } from '../trust/signed-input.ts';

export type ExtractWhat = MadeWhat;

export interface ExtractOptions extends OperationOptions, NetworkOptions, StoreChoice, TrustOptions {
  /** a .caibx, .caidx or .catar (a path, URL or ssh location; '-' is standard input), or its bytes */
  input: string | Uint8Array;
  /** what `input` is; default: from its suffix, or from its bytes (an index without metadata flags is a blob index) */
  what?: ExtractWhat;
  /** the file or block device (blobs) or directory (trees) to write; blobs may go to onData instead */
  output?: string;
  /** blobs without `output`: the bytes, in order */
  onData?(bytes: Uint8Array): void | Promise<void>;
  /** files, block devices or (trees) directories holding data to reuse */
  seeds?: string[];
  /** use the existing output as a seed (default true) */
  seedOutput?: boolean;
  /** trees: metadata to restore (casync's --with/--without names; the exclude options do not apply) */
  features?: Pick<FeatureOptions, 'with' | 'without'>;
  /** trees: remove what the archive does not list (default true) */
  delete?: boolean;
  /** trees: clear +i on what has to be replaced or removed (default false) */
  undoImmutable?: boolean;
  /** trees: leave runs of zeros as holes (default true) */
  punchHoles?: boolean;
  /** clone seed data with FICLONERANGE where the file system can, into a file or a tree (default true) */
  reflink?: boolean;
  /** trees: hard-link seed files identical to the archived ones (default false) */
  hardlink?: boolean;
  /** trees: shift owners by `shift` and confine them to `range` ids (casync's --uid-shift, --uid-range) */
  uidShift?: UidShift | null;
  /** trees: write a pax tar stream (to the file `output`, or to onData) instead of a directory (extract-tar.ts) */
  outputFormat?: 'tar';
}

export interface ExtractResult {
  what: ExtractWhat;
  /** bytes of the blob or archive stream */
  size: number;
  chunks: number;
  /** trees: entries created */
  entries?: number;
  /** bytes cloned from seed files (with `reflink`, to a file, device or tree) and hard-linked to them (trees, with `hardlink`); undefined without the option, as casync prints none */
  clonedBytes?: number;
  linkedBytes?: number;
  /** where the chunks came from (counts and bytes; blobs: zero chunks and chunks already in place) */
  sources: FetchStats;
  /** the seeds used, how their chunk lists were had, and whether the seed index had gone stale */
  seeds: SeedReport[];
  seedChunks: number;
  staleSeeds: boolean;
}

/** Extracts a blob or a tree (see ExtractOptions). */
export async function extract(o: ExtractOptions): Promise<ExtractResult> {
  checkAborted(o.signal);
  if (typeof o.input !== 'string' && !(o.input instanceof Uint8Array)) {
    throw usageError('extract: `input` (a path or the bytes of an index or archive) is required');
  }
  if (o.outputFormat === 'tar') {
    const what = whatOf({ ...o, output: undefined });
    if (what === 'blob-index') throw usageError('--output-format=tar: only an archive or archive index (.catar, .caidx) holds a tree to write as tar');
    return extractTar(o, what);
  }
  if (o.outputFormat !== undefined) throw usageError(`outputFormat: ${String(o.outputFormat)}: not tar`);
  const what = whatOf(o);
  return what === 'blob-index' ? extractBlobIndex(o) : extractTree(o, what);
}

function whatOf(o: ExtractOptions): ExtractWhat {
  if (typeof o.input === 'string') {
    const input = o.input === '-' ? null : stripFileUrl(o.input);
    return resolveExtract({ what: o.what, input, output: o.output === undefined ? undefined : statSync(o.output, { throwIfNoEntry: false }) });
  }
  if (o.what !== undefined) return resolveExtract({ what: o.what, input: null });
  const v = new DataView(o.input.buffer, o.input.byteOffset, o.input.byteLength);
  if (o.input.length < 24 || v.getBigUint64(8, true) !== CA_FORMAT_INDEX) return 'archive';
  return v.getBigUint64(16, true) & CA_FORMAT_WITH_MASK ? 'archive-index' : 'blob-index';
}

async function extractBlobIndex(o: ExtractOptions): Promise<ExtractResult> {
  if (o.output === undefined && !o.onData) throw usageError('extract: a blob needs `output` or `onData`');
  const output = o.output === undefined ? undefined : stripFileUrl(o.output);
  const outStat = output === undefined ? undefined : statSync(output, { throwIfNoEntry: false });
  if (outStat && !outStat.isFile() && !outStat.isBlockDevice()) throw usageError(`${output}: neither a regular file nor a block device; refusing`);
  const seeds = [...(o.seeds ?? [])];
  if (output !== undefined && outStat && o.seedOutput !== false) seeds.push(output);
  const ex = await Extraction.open({ ...o, index: o.input, stores: o, network: o, seeds, announceReady: true, trust: o, shareCaller: true });
  let file: AtomicFile | null = null;
  let device: FileRef | null = null;
  // The output's chunks are the index's: remembered as a seed for the next update
  // (up to a million chunks, 40 MB; 64 GiB at the default sizes).
  const list = new ListBuilder(1 << 20);
  const progress = countedProgress(o, ex.blobSize, true);
  try {
    if (outStat?.isBlockDevice()) device = openDevice(output!, ex.blobSize);
    else if (output !== undefined) {
      // Through a symlink, the file it points to is what gets replaced.
      file = new AtomicFile(outStat ? realpathSync(output) : output);
      if (outStat) file.chmod(outStat.mode & 0o7777);
    }
    const reflink = o.reflink ?? true;
    const r = await ex.run({
      out: device ?? (file ? { fd: file.fd, path: output! } : null),
      holes: file !== null,
      // Only seed data clones: without seeds, no thread loads the Linux adapter (some 30 ms of CPU each).
      reflink: file && reflink && ex.seeds.files.some(Boolean) ? linuxFs() : null,
      compareOutput: device !== null,
      zeros: true,
      onData: o.onData,
      progress: progress.buffer,
      onEntries: (batch) => list.add(batch.map((e) => e.offset + e.size), packIds(batch)),
    });
    progress.end();
    // An abort during the last batch still leaves the output as it was.
    checkAborted(o.signal);
    if (file) {
      // Only if needed (trailing holes): XFS zeroes past the end of the last block even when the size stays, unsharing a cloned one.
      if (fstatSync(file.fd).size !== r.size) ftruncateSync(file.fd, r.size);
      file.commit();
    }
    const staleSeeds = ex.settle(r);
    const chunks = list.finish();
    if (output !== undefined && chunks) rememberBlob(ex.seeds, output, seedParams(ex.header, ex.digest, false), chunks);
    const { size, chunks: count, clonedBytes, ...sources } = r;
    // As casync: with --reflink, a count for a file or a device (on which nothing clones).
    const cloned = output !== undefined && reflink ? clonedBytes : undefined;
    return { what: 'blob-index', size, chunks: count, clonedBytes: cloned, sources, seeds: ex.seeds.reports, seedChunks: ex.seeds.index.size, staleSeeds };
  } catch (e) {
    // The jobs write into the temporary file: they end before it goes.
    await ex.executors.close();
    file?.abort();
    throw e;
  } finally {
    progress.stop();
    if (device) closeSync(device.fd);
    await ex.close();
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
