// A store in memory: tests, a front for storage of the caller's own, a
// scratch store.  It keeps copies of what it is given, so callers may reuse
// their buffers.  Worker threads reach it through the store relay (it has no
// serializable description: its chunks live in this thread's memory).

import type { WriteStore } from './store.ts';

export class MemoryStore implements WriteStore {
  readonly chunks = new Map<string, Uint8Array>();

  constructor(readonly name = 'memory store') {}

  async get(id: string): Promise<Uint8Array | null> {
    return this.chunks.get(id) ?? null;
  }

  async has(id: string): Promise<boolean> {
    return this.chunks.has(id);
  }

  async put(id: string, chunk: Uint8Array): Promise<boolean> {
    if (this.chunks.has(id)) return false;
    this.chunks.set(id, Uint8Array.prototype.slice.call(chunk));
    return true;
  }

  async remove(id: string): Promise<boolean> {
    return this.chunks.delete(id);
  }

  async *list(): AsyncIterable<string> {
    yield* [...this.chunks.keys()];
  }

  async close(): Promise<void> {}
}
