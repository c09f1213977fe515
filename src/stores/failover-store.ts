// A failover group (`a|b` in desync's notation): stores that hold the same
// chunks, one used at a time.  A request goes to the current member; when the
// member fails (unreachable, an error status), the next one takes over for
// this request and those after it.  A member that answers "not there" is an
// answer, not a failure, and so is a corrupt copy: both are passed on as they
// are, so that a chain around the group can go on to its next store.  Writes
// go to the current member the same way (every member must take them).

import { ChunkCorruptError, WasyncError, networkError } from '../errors.ts';
import { absentOf, readOf, writable, type ChunkRead, type ChunkSource, type ChunkStore, type WriteStore } from './store.ts';

export class FailoverStore implements ChunkSource, WriteStore {
  readonly name: string;
  private current = 0;

  constructor(readonly stores: readonly ChunkStore[]) {
    if (!stores.length) throw new WasyncError('EUSAGE', 'a failover group needs at least one store');
    this.name = stores.map((s) => s.name).join('|');
  }

  read(id: string, size: number, into?: Uint8Array): Promise<ChunkRead | null> {
    return this.each((s) => readOf(s, id, size, into));
  }

  get(id: string): Promise<Uint8Array | null> {
    return this.each((s) => s.get(id));
  }

  has(id: string): Promise<boolean> {
    return this.each((s) => s.has(id));
  }

  put(id: string, chunk: Uint8Array): Promise<boolean> {
    return this.each((s) => writable(s).put(id, chunk));
  }

  remove(id: string): Promise<boolean> {
    return this.each((s) => writable(s).remove(id));
  }

  async *list(): AsyncIterable<string> {
    yield* writable(this.stores[this.current]).list();
  }

  absent = (): string[] => this.stores.flatMap(absentOf);

  async close(): Promise<void> {
    await Promise.all(this.stores.map((s) => s.close()));
  }

  private async each<T>(op: (s: ChunkStore) => Promise<T>): Promise<T> {
    const failures: string[] = [];
    // From the member current when the request began: requests in flight move `current` meanwhile.
    const first = this.current;
    for (let k = 0; k < this.stores.length; k++) {
      const i = (first + k) % this.stores.length;
      try {
        const r = await op(this.stores[i]);
        this.current = i;
        return r;
      } catch (e) {
        if (e instanceof ChunkCorruptError) throw e;
        failures.push((e as Error).message);
      }
    }
    throw networkError(`every store of the failover group ${this.name} failed: ${failures.join('; ')}`);
  }
}
