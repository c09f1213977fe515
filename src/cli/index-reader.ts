// An index opened for random access by the commands that serve it (mount, mkdev):
// its chunk table, and a reader whose chunks are fetched, decompressed and
// verified on the worker pool (platform/node/mount/chunk-loader.ts), from the
// seeds first (--seed, chunked or taken from the seed index), then the stores in
// casync's order.  The thread that answers the kernel or the NBD clients only
// copies bytes.

import { IndexReadAt } from '../engine/random-access.ts';
import { digestOfFlags } from '../format/feature-flags.ts';
import type { IndexHeader } from '../format/index-file.ts';
import { nodeChunkAccess, readChunkTable } from '../platform/node/io/random-access.ts';
import { WorkerPool } from '../platform/node/pool/worker-pool.ts';
import { linuxFs } from '../platform/node/linux/index.ts';
import { poolChunkLoader } from '../platform/node/pool/chunk-loader.ts';
import type { GlobalOptions } from './options.ts';
import type { RemoteContext } from './remote.ts';
import { readStores } from './stores.ts';
import { prepareSeeds, type Seeds } from './seeds.ts';
import type { Log } from './log.ts';

export interface OpenedIndex {
  header: IndexHeader;
  reader: IndexReadAt;
  close(): Promise<void>;
}

export async function openIndexReader(
  loc: string,
  opts: GlobalOptions,
  remote: RemoteContext,
  log: Log,
  tuning: { cacheChunks: (header: IndexHeader) => number; readAhead: number; treeSeeds: boolean },
): Promise<OpenedIndex> {
  const stores = readStores(opts, loc);
  const { header, table } = await readChunkTable(loc, remote.client);
  const digest = digestOfFlags(header.flags);
  const pool = new WorkerPool();
  let seeds: Seeds | null = null;
  try {
    if (opts.seed?.length) {
      const linux = tuning.treeSeeds ? linuxFs() : null;
      const trees = linux ? { linux } : undefined;
      seeds = await prepareSeeds(opts.seed, { header, digest, executor: pool, log, trees });
    }
  } catch (e) {
    await pool.close();
    throw e;
  }
  const warned = new Set<string>();
  const load = poolChunkLoader({
    executor: pool,
    digest,
    stores,
    remote: remote.config(pool.parallelism),
    seeds,
    onWarning: (w) => {
      if (!warned.has(w)) log.warn(w);
      warned.add(w);
    },
  });
  // `access` is not used with a loader; it is there for the type's sake.
  const access = nodeChunkAccess([], remote.client);
  const reader = new IndexReadAt({ table, digest, access, load, cacheChunks: tuning.cacheChunks(header), readAhead: tuning.readAhead, file: loc });
  return {
    header,
    reader,
    close: async () => {
      seeds?.close();
      await pool.close();
    },
  };
}
