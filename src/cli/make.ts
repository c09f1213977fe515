// wasync make [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] [DIR|FILE|BLOCKDEV|TAR|-] and
// wasync extract [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] [DIR|FILE|BLOCKDEV|-]: the
// arguments and options as the operations take them, progress, casync's
// statistics with -v, and the digest make prints.  With --output-format=tar a
// tree goes to FILE or standard output as a tar stream.

import { usageError } from '../errors.ts';
import { extract as extractOp } from '../platform/node/operations/extract.ts';
import { make as makeOp, type MakeWhat } from '../platform/node/operations/make.ts';
import { pack } from '../platform/node/operations/pack.ts';
import { resolveExtract, type MadeWhat } from '../platform/node/operations/resolve.ts';
import { writeStdout } from '../platform/node/io/stdout.ts';
import { statSync } from 'node:fs';
import { classifyLocator, stripFileUrl } from '../stores/locator.ts';
import { Log } from './log.ts';
import { chunkSizeOption, extraction, features, inputFormat, network, oneStore, parseCompression, parseDigest, storeChoice, trust, whatOption, type GlobalOptions } from './options.ts';
import { progressReporter } from './progress.ts';
import { serviceNotifier } from './service.ts';

export async function make(outputArg: string | undefined, inputArg: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  const what = whatOption(opts.what) as MakeWhat | undefined;
  // Without an input casync archives the current directory, or reads a blob from standard input.
  const source = inputArg ?? (opts.inputFormat === undefined && (what === 'archive' || what === 'archive-index') ? '.' : '-');
  const compression = parseCompression(opts.compression);
  const service = serviceNotifier();
  const progress = service.progress(progressReporter(opts.progress, 'make'), 'make');
  try {
    const r = await makeOp({
      source,
      output: outputArg ?? '-',
      what,
      ...oneStore(opts),
      // casync's --cache and -c: the encoder cache (refused for blobs, as casync refuses it)
      encoderCache: opts.cache,
      encoderCacheAuto: opts.cacheAuto,
      chunkSize: chunkSizeOption(opts.chunkSize),
      digest: parseDigest(opts.digest),
      compression,
      features: features(opts),
      inputFormat: inputFormat(opts.inputFormat),
      ...network(opts),
      onProgress: progress.onProgress,
      onWarning: log.warn,
      notify: service.notice,
    });
    progress.stop(true);
    log.made(r, compression ?? 'zstd');
    // casync has no digest to print when the index or archive goes to standard output, nor with a cache.
    if (outputArg !== undefined && outputArg !== '-' && r.digest !== null) process.stdout.write(`${r.digest}\n`);
    if (opts.pack) {
      const indexes = outputArg !== undefined && outputArg !== '-' ? [outputArg] : [];
      const p = await pack({ store: oneStore(opts).store as string | undefined, indexes, ...network(opts) });
      log.info(`Packed ${p.chunks} chunks into ${p.packs.length} new packs; the pack index names ${p.total} chunks.`);
    }
  } catch (e) {
    progress.stop(false);
    throw e;
  }
}

export async function extract(inputArg: string | undefined, outputArg: string | undefined, opts: GlobalOptions) {
  const log = new Log(!!opts.verbose);
  const input = inputArg ?? '-';
  const toStdout = outputArg === undefined || outputArg === '-';
  if (!toStdout && classifyLocator(stripFileUrl(outputArg)) !== 'path') throw usageError(`${outputArg}: the output must be a local path`);
  const output = toStdout ? undefined : stripFileUrl(outputArg);
  const ex = extraction(opts);
  // A tar stream is a file whatever the archive: only the input says what it is.
  const tar = ex.outputFormat === 'tar';
  const what: MadeWhat = resolveExtract({
    what: opts.what,
    input: input === '-' ? null : stripFileUrl(input),
    output: output === undefined || tar ? undefined : statSync(output, { throwIfNoEntry: false }),
  });
  const tree = what !== 'blob-index' && !tar;
  const service = serviceNotifier();
  const progress = service.progress(progressReporter(opts.progress, 'extract'), 'extract');
  try {
    const r = await extractOp({
      input,
      what,
      // A tree goes to the current directory unless told otherwise; a blob to standard output.
      output: output ?? (tree ? '.' : undefined),
      onData: tree || output !== undefined ? undefined : writeStdout,
      ...storeChoice(opts),
      ...network(opts),
      ...ex,
      ...trust(opts, input),
      onProgress: progress.onProgress,
      onWarning: log.warn,
      notify: service.notice,
    });
    progress.stop(true);
    log.extracted(r, output ?? (tar ? 'standard output' : '.'));
  } catch (e) {
    progress.stop(false);
    throw e;
  }
}
