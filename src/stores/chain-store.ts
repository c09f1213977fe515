// The store chain: stores tried in order, as casync tries its stores (the
// local store, the cache, the extra stores, then the remote ones).  A store
// that lacks a chunk passes the request on; one whose copy is corrupt does too,
// and when a later store has a good copy the corrupt one is reported as a
// warning.  Only when no store has a good copy does the read fail, with the
// first corrupt copy's error.

import { ChunkCorruptError } from '../errors.ts';
import { absentOf, readOf, type ChunkRead, type ChunkSource, type ChunkStore } from './store.ts';

export interface ChainOptions {
  /** a corrupt copy that a later store's good one replaced */
  onWarning?(message: string): void;
}

export class ChainStore implements ChunkSource {
  readonly name: string;

  constructor(
    readonly stores: readonly ChunkStore[],
    private readonly o: ChainOptions = {},
  ) {
    this.name = stores.map((s) => s.name).join(', ');
  }

  async read(id: string, size: number, into?: Uint8Array): Promise<ChunkRead | null> {
    let corrupt: ChunkCorruptError | null = null;
    for (const s of this.stores) {
      let r: ChunkRead | null;
      try {
        r = await readOf(s, id, size, into);
      } catch (e) {
        if (!(e instanceof ChunkCorruptError)) throw e;
        corrupt ??= e;
        continue;
      }
      if (!r) continue;
      if (corrupt) this.o.onWarning?.(`${corrupt.message}; used the copy in ${r.store.name}`);
      return r;
    }
    if (corrupt) throw corrupt;
    return null;
  }

  async get(id: string): Promise<Uint8Array | null> {
    for (const s of this.stores) {
      const b = await s.get(id);
      if (b) return b;
    }
    return null;
  }

  async has(id: string): Promise<boolean> {
    for (const s of this.stores) if (await s.has(id)) return true;
    return false;
  }

  absent = (): string[] => this.stores.flatMap(absentOf);

  async close(): Promise<void> {
    await Promise.all(this.stores.map((s) => s.close()));
  }
}
