// wasync make [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] [PATH]

import { statSync } from 'node:fs';
import { usageError } from '../errors.ts';
import { toHex } from '../chunk/chunk-id.ts';
import { blobIndexFlags, makeBlob } from '../platform/node/pool/make-blob.ts';
import { verboseFeatureFlagLines } from '../format/feature-flag-names.ts';
import { writeFully } from '../platform/node/io/file-io.ts';
import { openBlobInput } from '../platform/node/io/blob-file.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { writeStdout } from '../platform/node/io/stdout.ts';
import { formatBytes } from '../format/units.ts';
import { Log } from './log.ts';
import { hasSuffix, stripFileUrl } from '../stores/locator.ts';
import {
  parseChunkSizes,
  parseCompression,
  parseDigest,
  parseWhat,
  type GlobalOptions,
} from './options.ts';
import { primaryStore } from './stores.ts';
import { makeTree } from './make-tree.ts';
import { chunkStoreFor, openOutputTarget } from './output-target.ts';
import { RemoteContext } from './remote.ts';
import { Progress, progressMode } from './progress.ts';

function operation(output: string | undefined, opts: GlobalOptions): 'archive' | 'archive-index' | 'blob-index' | null {
  const what = parseWhat(opts.what);
  if (what) {
    if (!['archive', 'archive-index', 'blob-index'].includes(what)) {
      throw usageError('"make" may only be combined with --what=archive, --what=archive-index or --what=blob-index');
    }
    return what as 'archive' | 'archive-index' | 'blob-index';
  }
  if (output === undefined || output === '-') return null;
  if (hasSuffix(output, '.catar')) return 'archive';
  if (hasSuffix(output, '.caidx')) return 'archive-index';
  if (hasSuffix(output, '.caibx')) return 'blob-index';
  throw usageError(`${output}: the file to create has no valid suffix (.catar, .caidx or .caibx); refusing`);
}

export async function make(outputArg: string | undefined, inputArg: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  const output = outputArg === undefined ? undefined : stripFileUrl(outputArg);
  let what = operation(output, opts);
  const remote = new RemoteContext(opts);
  const inputPath = stripFileUrl(inputArg ?? (what === 'archive' || what === 'archive-index' ? '.' : '-'));
  if (inputPath !== '-' && statSync(inputPath, { throwIfNoEntry: false })?.isDirectory()) {
    if (what === 'blob-index') throw usageError(`${inputPath} is a directory, but a blob index (.caibx) was asked for`);
    return makeTree(what ?? 'archive', output === undefined || output === '-' ? null : output, inputPath, opts, log, remote);
  }
  if (what === 'archive' || what === 'archive-index') {
    throw usageError(`${inputPath} is a regular file or block device, but a directory archive (.catar/.caidx) was asked for; refusing`);
  }
  const sizes = parseChunkSizes(opts.chunkSize);
  const digest = parseDigest(opts.digest);
  const compression = parseCompression(opts.compression);
  const input = openBlobInput(inputPath);
  what ??= 'blob-index';
  const indexLoc = output === undefined || output === '-' ? null : output;
  const store = primaryStore(opts, indexLoc, true);
  if (store === null) throw usageError('no chunk store: give --store=PATH when writing the index to standard output');

  log.info(`Selected chunk sizes: min=${sizes.min}..avg=${sizes.avg}..max=${sizes.max}`);
  for (const line of verboseFeatureFlagLines(blobIndexFlags(digest))) log.info(line);

  const target = indexLoc === null ? null : openOutputTarget(indexLoc, remote, input.stat.mode & 0o666, store);
  const executors = new Executors(input.size);
  let written = 0;
  let done = 0;
  const progress = new Progress(progressMode(opts.progress), 'make', () => ({ done, total: input.size }));
  try {
    const result = await makeBlob({
      input,
      size: input.size,
      sizes,
      digest,
      store: chunkStoreFor(target, store),
      remote: remote.config(executors.chunks.parallelism),
      compression,
      executor: executors.chunks,
      digestExecutor: executors.digest,
      writeIndex: async (bytes) => {
        if (target) writeFully({ fd: target.fd, path: target.tmpPath }, bytes, written);
        else await writeStdout(bytes);
        written += bytes.length;
      },
      onProgress: (n) => (done = n),
    });
    await target?.commit();
    progress.stop(true);
    log.info(`Archive size: ${formatBytes(result.size)}`);
    log.info(`Number of chunks: ${result.chunks}`);
    const reused = result.chunks - result.stored;
    log.info(`Reused (non-cached) chunks: ${reused} (${result.chunks ? Math.floor((reused * 100) / result.chunks) : 0}%)`);
    if (result.chunks) log.info(`Effective average chunk size: ${formatBytes(Math.floor(result.size / result.chunks))}`);
    log.info(`Stored ${result.stored} new chunks (${formatBytes(result.storedBytes)} compressed with ${compression}) in ${store}`);
    // casync has no digest to print when the index goes to stdout.
    if (target) process.stdout.write(`${toHex(result.digest)}\n`);
  } catch (e) {
    progress.stop(false);
    target?.abort();
    throw e;
  } finally {
    input.close();
    await executors.close();
  }
}
