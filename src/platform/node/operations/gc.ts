// gc(): removes from a store every chunk that none of the given indexes
// references.  All indexes are read completely before anything is removed, so
// an unreadable index stops gc instead of making it delete what that index
// needed.  The store must list and remove chunks (a local directory does).
// A local store's pack index (STORE/pack/) keeps only the chunks kept, and
// packs left with none are removed; the bytes of a dropped chunk stay in its
// pack until the whole pack goes.

import { CHUNK_SUFFIX, toHex } from '../../../chunk/chunk-id.ts';
import { openIndexStream } from '../../../engine/index-stream.ts';
import { WasyncError, usageError } from '../../../errors.ts';
import { stripFileUrl } from '../../../stores/locator.ts';
import { openIndexLocator } from '../io/index-input.ts';
import { LocalStore } from '../storage/local-store.ts';
import { prunePacks } from '../storage/local-packs.ts';
import { Network, type NetworkOptions } from './network.ts';
import { OperationStores, type StoreChoice, type StoreLike } from './stores.ts';

export interface GcOptions extends NetworkOptions {
  /** the indexes whose chunks are kept (paths or URLs) */
  indexes: string[];
  /** default: default.castr beside the first index */
  store?: StoreLike;
  /** only say what would be removed */
  dryRun?: boolean;
  /** the store's encrypted chunks under this key are collected (its plain ones are left alone), see StoreChoice */
  encryption?: StoreChoice['encryption'];
  /** each chunk removed (or, dry, that would be) */
  onRemove?(id: string): void;
  /** what is not as it should be but does not stop gc (a stray file, a chunk that cannot be removed) */
  onWarning?(message: string): void;
  /** the indexes are read: what they reference, before anything is removed */
  onStart?(usage: { references: number; used: number }): void;
}

export interface GcResult {
  /** references in the indexes, and distinct chunks among them */
  references: number;
  used: number;
  /** chunks found in the store, and removed (or to be removed) */
  chunks: number;
  removed: number;
  /** chunk directories left empty and removed (local stores) */
  directories: number;
  /** pack index entries dropped, and pack files removed (or, dry, that would be): local stores with packs */
  packEntries: number;
  packs: number;
}

export async function gc(o: GcOptions): Promise<GcResult> {
  if (!o.indexes?.length) throw usageError('gc: expected at least one index');
  const net = new Network(o);
  const stores = new OperationStores(net, false);
  try {
    const indexes = o.indexes.map(stripFileUrl);
    const store = stores.writing(o.store, indexes[0], o.encryption);
    const used = new Set<string>();
    let references = 0;
    for (const path of indexes) {
      const index = await openIndexLocator(path, net.client);
      const { entries } = await openIndexStream(index.bytes, index.name);
      for await (const batch of entries) {
        for (const e of batch) {
          used.add(toHex(e.id));
          references++;
        }
      }
    }
    o.onStart?.({ references, used: used.size });
    const r: GcResult = { references, used: used.size, chunks: 0, removed: 0, directories: 0, packEntries: 0, packs: 0 };
    const warn = (m: string) => o.onWarning?.(m);
    // The pack index loses the chunks to be removed before their files go, so it never names a removed chunk.
    if (store instanceof LocalStore && store.suffix === CHUNK_SUFFIX) {
      const p = prunePacks(store.dir, (id) => used.has(id), o.dryRun);
      r.packEntries = p.dropped;
      r.packs = p.removed.length;
    }
    const listing = store instanceof LocalStore ? store.list((path) => warn(`${path}: not a chunk id, ignoring`)) : store.list();
    for await (const id of listing) {
      r.chunks++;
      if (used.has(id)) continue;
      o.onRemove?.(id);
      if (!o.dryRun) {
        try {
          await store.remove(id);
        } catch (e) {
          warn(e instanceof WasyncError ? e.message : `${id}: cannot remove: ${(e as Error).message}`);
          continue;
        }
      }
      r.removed++;
    }
    if (store instanceof LocalStore) r.directories = store.removedDirectories;
    return r;
  } finally {
    stores.close();
    await net.close();
  }
}
