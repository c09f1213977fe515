// wasync make X.catar|X.caidx DIR: a directory tree as a catar stream, written
// out (.catar) or chunked into the store (.caidx).  The stream is produced on
// this thread into a shared ring buffer; worker threads digest and chunk it.

import { toHex } from '../chunk/chunk-id.ts';
import { usageError } from '../errors.ts';
import { CA_FORMAT_SUPPORTED_WITH_MASK, digestOfFlags } from '../format/feature-flags.ts';
import { featureFlagsFromOptions, verboseFeatureFlagLines } from '../format/feature-flag-names.ts';
import { encodeIndexItems, encodeIndexPreamble, encodeIndexTail } from '../format/index-file.ts';
import { ChunkPipeline } from '../platform/node/pool/chunk-pipeline.ts';
import { RingWriter, ringSizeFor } from '../platform/node/pool/ring-writer.ts';
import { chunkStoreFor, openOutputTarget } from './output-target.ts';
import type { RemoteContext } from './remote.ts';
import { Progress, progressMode } from './progress.ts';
import { BufferedOutput } from '../platform/node/io/buffered-output.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { linuxFs, linuxFsUnavailable } from '../platform/node/linux/index.ts';
import { encodeTree } from '../platform/node/tree/encode-tree.ts';
import { formatBytes } from '../format/units.ts';
import type { Log } from './log.ts';
import { parseChunkSizes, parseCompression, parseYesNo, type GlobalOptions } from './options.ts';
import { primaryStore } from './stores.ts';

/** The feature flags of an archive made with these options (casync-format.md §3.2). */
export function archiveFlags(opts: GlobalOptions): bigint {
  return featureFlagsFromOptions(
    {
      with: opts.with ?? [],
      without: opts.without ?? [],
      excludeNodump: parseYesNo('exclude-nodump', opts.excludeNodump, true),
      excludeSubmounts: parseYesNo('exclude-submounts', opts.excludeSubmounts, false),
      excludeFile: parseYesNo('exclude-file', opts.excludeFile, true),
      digest: opts.digest === 'sha256' ? 'sha256' : 'sha512-256',
    },
    CA_FORMAT_SUPPORTED_WITH_MASK,
  );
}

export async function makeTree(
  what: 'archive' | 'archive-index',
  output: string | null,
  dir: string,
  opts: GlobalOptions,
  log: Log,
  remote: RemoteContext,
) {
  const flags = archiveFlags(opts);
  const sizes = parseChunkSizes(opts.chunkSize);
  const compression = parseCompression(opts.compression);
  const store = what === 'archive-index' ? primaryStore(opts, output, true) : null;
  if (what === 'archive-index' && store === null) {
    throw usageError('no chunk store: give --store=PATH when writing the index to standard output');
  }
  if (what === 'archive-index') log.info(`Selected chunk sizes: min=${sizes.min}..avg=${sizes.avg}..max=${sizes.max}`);
  for (const line of verboseFeatureFlagLines(flags)) log.info(line);

  const target = output === null ? null : openOutputTarget(output, remote, 0o666, store);
  const out = new BufferedOutput(target?.fd ?? null, output ?? 'standard output');
  const executors = new Executors(Infinity);
  const ring = new SharedArrayBuffer(ringSizeFor(sizes.max));
  let progress: Progress | undefined;
  try {
    const pipeline = new ChunkPipeline({
      input: { ring, path: `${dir} (archive stream)` },
      sizes,
      digest: digestOfFlags(flags),
      store: chunkStoreFor(target, store),
      remote: remote.config(executors.chunks.parallelism),
      compression,
      executor: executors.chunks,
      digestExecutor: executors.digest,
      chunk: what === 'archive-index',
      onChunks: (ends, r) => out.write(encodeIndexItems(ends, r.ids)),
    });
    if (what === 'archive-index') await out.write(encodeIndexPreamble({ flags, ...sizes }));
    const writer = new RingWriter(ring, pipeline, what === 'archive' ? (b) => out.write(b) : undefined);
    progress = new Progress(progressMode(opts.progress), 'make', () => ({ done: writer.written, total: null }));
    const linux = linuxFs();
    const tree = await encodeTree({ root: dir, featureFlags: flags, sink: writer, linux, linuxMissing: linux ? null : linuxFsUnavailable() });
    const totals = await pipeline.finish(writer.written);
    if (what === 'archive-index') await out.write(encodeIndexTail(totals.chunks));
    await out.flush();
    await target?.commit();
    progress.stop(true);
    log.info(`Archive size: ${formatBytes(tree.bytes)}`);
    log.info(`Number of entries: ${tree.entries}`);
    if (what === 'archive-index') {
      log.info(`Number of chunks: ${totals.chunks}`);
      log.info(`Stored ${totals.stored} new chunks (${formatBytes(totals.storedBytes)} compressed with ${compression}) in ${store}`);
    }
    // casync has no archive digest to print when the archive goes to stdout.
    if (output !== null) process.stdout.write(`${toHex(totals.digest!)}\n`);
  } catch (e) {
    progress?.stop(false);
    target?.abort();
    throw e;
  } finally {
    await executors.close();
  }
}
