// info(): what an index holds and what an update from it would cost (desync's
// `info`): its chunks, distinct chunks, chunk sizes and blob size; how many
// distinct chunks the seeds give, which of the stores an extraction would read
// have them, and so what would have to come over the network and what no one
// has.  Nothing is fetched: a store is only asked whether it has each chunk
// (a stat, or a HEAD request), --concurrency at a time.
//
// The update's cost in the terms of engine/update-cost.ts, which the page draws:
// of the image's bytes, those covered by chunks at hand (seeds, the cache, local
// stores), by the all-zero chunk of a blob index (never fetched), and by new
// chunks, of which the distinct ones are what an update downloads.
//
// A seed is what extraction takes as one (a file, block device or, for an
// archive index, a directory, chunked with the index's parameters and the
// seed cache), or, as desync's seeds are, another index (.caibx, .caidx),
// whose chunks are taken as what an earlier version left on the machine.

import { toHex } from '../../../chunk/chunk-id.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { DistinctChunks } from '../../../engine/verify.ts';
import { ZERO_ID_LIMIT } from '../../../engine/update-cost.ts';
import { usageError } from '../../../errors.ts';
import { CA_FORMAT_WITH_MASK, digestOfFlags } from '../../../format/feature-flags.ts';
import { defaultStoreFor, hasSuffix, stripFileUrl } from '../../../stores/locator.ts';
import type { ChunkStore } from '../../../stores/store.ts';
import { indexFromBytes, openIndexLocator } from '../io/index-input.ts';
import { linuxFs } from '../linux/index.ts';
import { Executors } from '../pool/executors.ts';
import { prepareSeeds } from '../seeds/prepare-seeds.ts';
import { digestOf } from '../storage/node-check.ts';
import { checkAborted, type OperationOptions } from './common.ts';
import { Network, type NetworkOptions } from './network.ts';
import { isLocal, OperationStores, type StoreChoice } from './stores.ts';

export interface InfoOptions extends NetworkOptions, Pick<StoreChoice, 'store' | 'extraStores' | 'cache' | 'encryption'>, Pick<OperationOptions, 'workers' | 'signal'> {
  /** a .caibx or .caidx: a path, URL, '-' for standard input, or its bytes */
  index: string | Uint8Array;
  /** files, block devices, directories (archive indexes) or other indexes whose chunks are at hand */
  seeds?: string[];
}

/** desync's `info` figures, under its JSON names, and what wasync adds. */
export interface InfoResult {
  /** chunks in the index, and distinct ones */
  total: number;
  unique: number;
  /** bytes of the blob or archive stream */
  size: number;
  'chunk-size-min': number;
  'chunk-size-avg': number;
  'chunk-size-max': number;
  /** the smallest and largest chunk the index has, and the mean */
  'smallest-chunk': number;
  'largest-chunk': number;
  'mean-chunk': number;
  /** distinct chunks the stores have (null: no store to ask), and their bytes */
  'in-store': number | null;
  'in-store-size': number | null;
  /** distinct chunks the seeds give */
  'in-seed': number;
  'in-seed-size': number;
  /** distinct chunks the cache has (null: no cache given) */
  'in-cache': number | null;
  'not-in-seed-nor-cache': number;
  /** bytes of distinct chunks not in the seeds (and not in the cache either) */
  'dedup-size-not-in-seed': number;
  'dedup-size-not-in-seed-nor-cache': number;
  /** what an update would download: distinct chunks only remote stores have, and their bytes */
  download: number | null;
  'download-size': number | null;
  /** distinct chunks in no seed and no store: an extraction would fail on them */
  missing: number | null;
  'missing-size': number | null;
  /** entries of a blob index that are its all-zero chunk, and the bytes they cover (written, never fetched) */
  'zero-chunks': number;
  'zero-size': number;
  /** bytes of the image covered by chunks at hand: in the seeds, the cache or a local store */
  'at-hand-size': number;
  /** distinct chunks not at hand (and not the zero chunk): what an update fetches, and their bytes */
  'new-chunks': number;
  'new-size': number;
  /** the stores asked, in order, and the cache */
  stores: string[];
}

/** Asks `ask(i)` for every i < n, `width` at a time. */
async function each(n: number, width: number, signal: AbortSignal | undefined, ask: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      checkAborted(signal);
      await ask(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, n)) }, lane));
}

const idKey = (id: Uint8Array) => toHex(id.subarray(0, 12));

export async function info(o: InfoOptions): Promise<InfoResult> {
  if (typeof o?.index !== 'string' && !(o?.index instanceof Uint8Array)) throw usageError('info: `index` (a path, URL or the bytes of an index) is required');
  checkAborted(o.signal);
  const loc = typeof o.index === 'string' && o.index !== '-' ? stripFileUrl(o.index) : null;
  const net = new Network(o);
  const stores = new OperationStores(net);
  let executors: Executors | null = null;
  let closeSeeds = () => {};
  try {
    const input = o.index instanceof Uint8Array ? indexFromBytes(o.index) : await openIndexLocator(loc, net.client);
    const { header, entries } = await openIndexStream(input.bytes, input.name);
    const chunks = new DistinctChunks();
    let total = 0;
    let size = 0;
    let smallest = Infinity;
    let largest = 0;
    for await (const batch of entries) {
      checkAborted(o.signal);
      chunks.add(batch);
      total += batch.length;
      for (const e of batch) {
        smallest = Math.min(smallest, e.size);
        largest = Math.max(largest, e.size);
        size = e.offset + e.size;
      }
    }

    // The seeds: other indexes by their chunk ids; files and directories chunked as extraction would.
    const seeded = new Set<string>();
    const indexSeeds = (o.seeds ?? []).filter((s) => hasSuffix(stripFileUrl(s), '.caibx') || hasSuffix(stripFileUrl(s), '.caidx'));
    for (const s of indexSeeds) {
      const seed = await openIndexLocator(stripFileUrl(s), net.client);
      for await (const batch of (await openIndexStream(seed.bytes, seed.name)).entries) for (const e of batch) seeded.add(idKey(e.id));
    }
    const dataSeeds = (o.seeds ?? []).filter((s) => !indexSeeds.includes(s)).map(stripFileUrl);
    const linux = (header.flags & CA_FORMAT_WITH_MASK) !== 0n ? linuxFs() : null;
    const fromData = dataSeeds.length
      ? await prepareSeeds(dataSeeds, {
          header,
          digest: digestOfFlags(header.flags),
          executor: (executors = new Executors(Infinity, o.workers)).chunks,
          trees: linux ? { linux } : undefined,
        })
      : null;
    if (fromData) closeSeeds = () => fromData.close();
    const inSeed = (id: Uint8Array) => seeded.has(idKey(id)) || fromData?.index.get(id) != null;

    // The stores extraction would read: the store (default beside the index) and the extra stores; the cache apart.
    const storeLocs = [o.store ?? (loc === null ? undefined : defaultStoreFor(loc)), ...(o.extraStores ?? [])].filter((s) => s !== undefined);
    const asked = storeLocs.map((s, i) => {
      const store = stores.resolve(s, i ? 'extra store' : 'store', o.encryption);
      return { store, local: isLocal(store) };
    });
    const cache: ChunkStore | null = o.cache === undefined ? null : stores.resolve(o.cache, 'cache', o.encryption);

    const r = {
      seed: 0, seedSize: 0, store: 0, storeSize: 0, cache: 0, notSeedCache: 0,
      notSeedSize: 0, notSeedCacheSize: 0, download: 0, downloadSize: 0, missing: 0, missingSize: 0,
      zero: 0, zeroSize: 0, atHandSize: 0, fresh: 0, freshSize: 0,
    };
    // Extraction writes a blob's zero chunks without fetching them (a tree's it fetches).
    const archive = (header.flags & CA_FORMAT_WITH_MASK) !== 0n;
    const zeroKey = !archive && header.max <= ZERO_ID_LIMIT ? idKey(digestOf(digestOfFlags(header.flags), new Uint8Array(header.max))) : null;
    await each(chunks.count, net.concurrency, o.signal, async (i) => {
      const id = chunks.ids[i];
      const hex = toHex(id);
      const bytes = chunks.sizes[i];
      const uses = chunks.uses[i];
      const zero = idKey(id) === zeroKey;
      const seed = inSeed(id);
      const cached = cache ? await cache.has(hex) : false;
      let where: 'local' | 'remote' | null = null;
      for (const a of asked) {
        if (await a.store.has(hex)) {
          where = a.local ? 'local' : 'remote';
          break;
        }
      }
      const add = (count: 'seed' | 'store' | 'notSeedCache' | 'download' | 'missing', sized: 'seedSize' | 'storeSize' | 'notSeedCacheSize' | 'downloadSize' | 'missingSize') => {
        r[count]++;
        r[sized] += bytes;
      };
      if (seed) add('seed', 'seedSize');
      else r.notSeedSize += bytes;
      if (cached) r.cache++;
      if (where) add('store', 'storeSize');
      if (zero) {
        r.zero += uses;
        r.zeroSize += bytes * uses;
      } else if (seed || cached || where === 'local') r.atHandSize += bytes * uses;
      else {
        r.fresh++;
        r.freshSize += bytes;
      }
      if (!seed && !cached) {
        add('notSeedCache', 'notSeedCacheSize');
        if (zero) return;
        if (where === 'remote') add('download', 'downloadSize');
        else if (!where) add('missing', 'missingSize');
      }
    });
    const any = asked.length > 0;
    return {
      total,
      unique: chunks.count,
      size,
      'chunk-size-min': header.min,
      'chunk-size-avg': header.avg,
      'chunk-size-max': header.max,
      'smallest-chunk': total ? smallest : 0,
      'largest-chunk': largest,
      'mean-chunk': total ? Math.round(size / total) : 0,
      'in-store': any ? r.store : null,
      'in-store-size': any ? r.storeSize : null,
      'in-seed': r.seed,
      'in-seed-size': r.seedSize,
      'in-cache': cache ? r.cache : null,
      'not-in-seed-nor-cache': r.notSeedCache,
      'dedup-size-not-in-seed': r.notSeedSize,
      'dedup-size-not-in-seed-nor-cache': r.notSeedCacheSize,
      download: any ? r.download : null,
      'download-size': any ? r.downloadSize : null,
      missing: any ? r.missing : null,
      'missing-size': any ? r.missingSize : null,
      'zero-chunks': r.zero,
      'zero-size': r.zeroSize,
      'at-hand-size': r.atHandSize,
      'new-chunks': r.fresh,
      'new-size': r.freshSize,
      stores: [...asked.map((a) => a.store.name), ...(cache ? [`${cache.name} (cache)`] : [])],
    };
  } finally {
    await executors?.close();
    closeSeeds();
    stores.close();
    await net.close();
  }
}
