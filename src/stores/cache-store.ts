// The cache: a store (usually a local directory) in front of a slower one.
// Reads try the cache first; a chunk the slower store had is kept in the
// cache once it has been checked, so nothing unverified ever reaches it, and
// the next read of it is local; a corrupt cached copy is replaced.  get() (unchecked) reads through but keeps
// nothing.  The cache is named after the store it fronts: it holds nothing of
// its own that the other does not.

import { ChunkCorruptError } from '../errors.ts';
import { absentOf, readOf, type ChunkRead, type ChunkSource, type ChunkStore, type WriteStore } from './store.ts';

export class CacheStore implements ChunkSource {
  readonly name: string;

  constructor(
    readonly cache: WriteStore,
    readonly store: ChunkStore,
  ) {
    this.name = store.name;
  }

  async read(id: string, size: number, into?: Uint8Array): Promise<ChunkRead | null> {
    let bad = false;
    try {
      const hit = await readOf(this.cache, id, size, into);
      if (hit) return hit;
    } catch (e) {
      if (!(e instanceof ChunkCorruptError)) throw e;
      bad = true;
    }
    const r = await readOf(this.store, id, size, into);
    if (!r) return null;
    if (bad) await this.cache.remove(id);
    await this.cache.put(id, r.stored);
    return r;
  }

  async get(id: string): Promise<Uint8Array | null> {
    return (await this.cache.get(id)) ?? this.store.get(id);
  }

  async has(id: string): Promise<boolean> {
    return (await this.cache.has(id)) || this.store.has(id);
  }

  /** A cache that does not exist yet is made by the first chunk it keeps: only the store it fronts counts. */
  absent = (): string[] => absentOf(this.store);

  async close(): Promise<void> {
    await Promise.all([this.cache.close(), this.store.close()]);
  }
}
