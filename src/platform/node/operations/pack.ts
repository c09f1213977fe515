// pack(): copies a local store's chunk files into pack files (STORE/pack/,
// format/pack-index.ts), so that readers over HTTP fetch runs of chunks with
// Range requests instead of one request per chunk.  The chunk files stay: casync
// still reads the store, and chunks made later are read from their files until
// the next pack.  Each pack adds new packs for the chunks not yet packed: those
// of the given indexes first, in index order (the order a reader of that index
// asks for them), then the store's other chunks in id order; packs already
// written are never rewritten (gc drops entries and whole packs).

import { toHex } from '../../../chunk/chunk-id.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { usageError } from '../../../errors.ts';
import { classifyLocator, defaultStoreFor, stripFileUrl } from '../../../stores/locator.ts';
import { openIndexLocator } from '../io/index-input.ts';
import { appendPacks, type PackResult } from '../storage/local-packs.ts';
import { LocalStore } from '../storage/local-store.ts';
import { Network, type NetworkOptions } from './network.ts';

export interface PackOptions extends NetworkOptions {
  /** a local store (a path or file:// URL); default default.castr beside the first index */
  store?: string;
  /** indexes whose chunks are packed first, in their order (paths or URLs) */
  indexes?: string[];
}

export type { PackResult };

export async function pack(o: PackOptions): Promise<PackResult> {
  const indexes = (o.indexes ?? []).map(stripFileUrl);
  const dir = o.store !== undefined ? stripFileUrl(o.store) : indexes.length ? defaultStoreFor(indexes[0]) : undefined;
  if (dir === undefined) throw usageError('pack: expected a store (or an index beside which default.castr is)');
  if (classifyLocator(dir) !== 'path') throw usageError(`${dir}: only a local store can be packed (pack it where it lies, then serve it)`);
  const store = new LocalStore(dir);
  if (store.absent().length) throw usageError(`store ${dir} does not exist`);
  const net = new Network(o);
  try {
    return await appendPacks(store, dir, order(store, indexes, net));
  } finally {
    await net.close();
  }
}

/** The indexes' chunks in index order, then every chunk file of the store in id order. */
async function* order(store: LocalStore, indexes: string[], net: Network): AsyncIterable<string> {
  for (const path of indexes) {
    const index = await openIndexLocator(path, net.client);
    const { entries } = await openIndexStream(index.bytes, index.name);
    for await (const batch of entries) for (const e of batch) yield toHex(e.id);
  }
  const all: string[] = [];
  for await (const id of store.list()) all.push(id);
  yield* all.sort();
}
