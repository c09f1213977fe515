// The chunks `wasync serve --upstream` fetches for its clients from other
// stores (HTTP, S3, ssh, local, failover groups: whatever --store takes),
// tried in the order given.  Nothing unchecked is served or kept: a copy must
// decompress to at most the largest chunk size with its id as SHA-512/256 or
// SHA-256 digest (put.ts's check of uploads; the server knows no index, so
// not the size), else it is logged with the chunk and the store, and the next
// store is asked.  With a cache directory, each checked chunk is written
// there (temporary name, then linked into place: local-store.ts), so the next
// request is answered from the disk.
//
// Requests for a chunk already being fetched wait for that fetch, so a chunk
// many clients want at once is fetched once; --concurrency bounds the
// requests in flight upstream.

import type { ChunkStore, WriteStore } from '../../../stores/store.ts';
import { whereOf } from '../../../stores/store.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import { chunkProblem } from './put.ts';

/** What the clients asking for a chunk get: its stored bytes, or a status and the line saying why. */
export type Fetched = { body: Uint8Array } | { status: 404 | 502; text: string };

export interface UpstreamOptions {
  stores: readonly ChunkStore[];
  /** where checked chunks are kept (a local store), if anywhere */
  cache: WriteStore | null;
  /** requests in flight upstream at once */
  concurrency: number;
  /** the largest chunk (decompressed) accepted */
  chunkMax: number;
  log(line: string): void;
}

export class Upstream {
  private readonly inflight = new Map<string, Promise<Fetched>>();
  private readonly gate: Semaphore;

  constructor(private readonly o: UpstreamOptions) {
    this.gate = new Semaphore(o.concurrency);
  }

  /** Chunk `id` from the first store with a good copy, fetched once for all who ask meanwhile. */
  fetch(id: string): Promise<Fetched> {
    let f = this.inflight.get(id);
    if (!f) {
      f = this.fetchOnce(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, f);
    }
    return f;
  }

  private async fetchOnce(id: string): Promise<Fetched> {
    const failures: string[] = [];
    for (const store of this.o.stores) {
      let stored: Uint8Array | null;
      try {
        stored = await this.gate.run(() => store.get(id));
      } catch (e) {
        const line = `chunk ${id} from ${store.name}: ${(e as Error).message}`;
        this.o.log(`upstream failed: ${line}`);
        failures.push(line);
        continue;
      }
      if (!stored) continue;
      const why = await chunkProblem(id, stored, this.o.chunkMax);
      if (why) {
        const line = `chunk ${id} from ${whereOf(store, id)} is corrupt: ${why}`;
        this.o.log(`upstream refused: ${line}`);
        failures.push(line);
        continue;
      }
      if (this.o.cache) {
        try {
          await this.o.cache.put(id, stored);
        } catch (e) {
          // A full cache disk still serves the chunk; it says so once per chunk.
          this.o.log(`cache: ${(e as Error).message}`);
        }
      }
      return { body: stored };
    }
    if (failures.length) return { status: 502, text: failures.join('; ') };
    return { status: 404, text: `chunk ${id}: no upstream store has it` };
  }

  close(): Promise<unknown> {
    return Promise.all(this.o.stores.map((s) => s.close()));
  }
}
