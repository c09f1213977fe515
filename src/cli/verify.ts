// wasync verify [--store=…] INDEX: every chunk the index names is in a store,
// decompresses and hashes to its id.  Distinct chunks are checked once, in
// batches spread over the worker threads; the summary lists every missing and
// corrupt chunk, and the exit status is 1 if there is any.

import { WasyncError, usageError } from '../errors.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import { formatBytes } from '../format/units.ts';
import { openIndexStream } from '../engine/index-stream.ts';
import { DistinctChunks, type ChunkVerdict } from '../engine/verify.ts';
import type { VerifyResult } from '../platform/node/pool/jobs.ts';
import { handled } from '../platform/node/pool/chunk-pipeline.ts';
import { Executors } from '../platform/node/pool/executors.ts';
import { openIndexLocator } from '../platform/node/io/index-input.ts';
import { hasSuffix, stripFileUrl } from '../stores/locator.ts';
import type { GlobalOptions } from './options.ts';
import { Progress, progressMode } from './progress.ts';
import { RemoteContext } from './remote.ts';
import { readStores } from './stores.ts';

const BATCH_BYTES = 4 << 20;

/** What verify found; the CLI prints it, the library API returns it. */
export interface IndexVerifyReport {
  index: string;
  /** the stores checked, in the order they were tried */
  stores: string[];
  /** distinct chunks and their bytes */
  chunks: number;
  bytes: number;
  missing: ChunkVerdict[];
  invalid: ChunkVerdict[];
}

export async function verify(indexArg: string, opts: GlobalOptions) {
  const { index: loc, stores, chunks, bytes, missing, invalid } = await verifyIndex(indexArg, opts);
  const problems = missing.length + invalid.length;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Chunks: ${chunks} (${formatBytes(bytes)}), checked in ${stores.join(', ')}`);
  if (missing.length) {
    out(`Missing chunks (${missing.length}):`);
    for (const p of missing) out(`  ${p.hex}`);
  }
  if (invalid.length) {
    out(`Corrupt chunks (${invalid.length}):`);
    for (const p of invalid) out(`  ${p.hex}: ${p.why}`);
  }
  if (problems) {
    throw new WasyncError('ECHUNKCORRUPT', `${loc}: ${missing.length} missing and ${invalid.length} corrupt of ${chunks} chunks`);
  }
  out('All chunks present and intact.');
}

/** Checks every distinct chunk of the index; `onProgress` gets the bytes checked so far. */
export async function verifyIndex(indexArg: string, opts: GlobalOptions, onProgress?: (done: number, total: number) => void): Promise<IndexVerifyReport> {
  const loc = stripFileUrl(indexArg);
  if (!hasSuffix(loc, '.caibx') && !hasSuffix(loc, '.caidx')) throw usageError(`${loc}: expected an index (.caibx or .caidx)`);
  const remote = new RemoteContext(opts);
  const stores = readStores(opts, loc);
  const index = await openIndexLocator(loc, remote.client);
  const { header, entries } = await openIndexStream(index.bytes, index.name);
  const digest = digestOfFlags(header.flags);
  const chunks = new DistinctChunks();
  for await (const batch of entries) chunks.add(batch);

  const executors = new Executors(chunks.bytes);
  const pool = executors.chunks;
  const config = remote.config(pool.parallelism);
  let done = 0;
  const progress = new Progress(progressMode(opts.progress), 'verify', () => ({ done, total: chunks.bytes }));
  const problems: ChunkVerdict[] = [];
  try {
    const jobs = new Set<Promise<void>>();
    for (let from = 0; from < chunks.count; ) {
      while (jobs.size >= 4 * pool.parallelism) await Promise.race(jobs);
      let to = from;
      let bytes = 0;
      while (to < chunks.count && bytes < BATCH_BYTES) bytes += chunks.sizes[to++];
      const { ids, sizes } = chunks.slice(from, to);
      const job: Promise<void> = handled(
        pool.run<VerifyResult>({ kind: 'verify', ids, sizes, digest, stores, remote: config }).then((r) => {
          problems.push(...r.problems);
          done += bytes;
          onProgress?.(done, chunks.bytes);
          jobs.delete(job);
        }),
      );
      jobs.add(job);
      from = to;
    }
    await Promise.all(jobs);
  } finally {
    progress.stop(true);
    await executors.close();
  }
  const missing = problems.filter((p) => p.verdict === 'missing');
  const invalid = problems.filter((p) => p.verdict === 'invalid');
  return { index: loc, stores, chunks: chunks.count, bytes: chunks.bytes, missing, invalid };
}
