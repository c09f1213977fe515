// The stores one thread reads and writes, by locator: local directories (read
// synchronously) and remote stores (URLs, and ssh locations through the main
// thread's StoreRelay, fetched concurrently under the thread's share of
// --concurrency).  A chunk is taken from the first store, in
// the order given, whose copy passes ChunkCheck; a corrupt copy is reported and
// the next store tried.  A verified chunk that came from a remote store is kept
// in the cache store, so nothing unverified ever reaches it.

import { WasyncError, chunkCorrupt, chunkMissing } from '../../../errors.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import type { RemoteConfig } from '../pool/jobs.ts';
import type { ChunkStoreReader, StoredChunk } from '../../../engine/random-access.ts';
import { HttpClient } from '../../../stores/http-client.ts';
import { HttpStore } from '../../../stores/http-store.ts';
import { classifyLocator } from '../../../stores/locator.ts';
import { RateLimiter } from '../../../stores/rate-limiter.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import type { ChunkCheck } from './chunk-check.ts';
import { LocalStore } from './local-store.ts';
import { RelayedStore, isRelayLocator, storeDisplayName } from './store-relay.ts';

export type RemoteStore = ChunkStoreReader & Partial<Pick<HttpStore, 'has' | 'put'>>;

export const isRemote = (loc: string) => classifyLocator(loc) !== 'path';

export class StoreSet {
  private readonly locals = new Map<string, LocalStore>();
  private readonly remotes = new Map<string, RemoteStore>();
  private readonly clients = new Map<string, HttpClient>();
  private readonly gates = new Map<number, Semaphore>();

  constructor(private readonly check: ChunkCheck) {}

  local(dir: string): LocalStore {
    let s = this.locals.get(dir);
    if (!s) this.locals.set(dir, (s = new LocalStore(dir)));
    return s;
  }

  remote(loc: string, cfg: RemoteConfig | undefined): RemoteStore {
    // An ssh store's connection lives on the main thread, which relays our requests.
    const relayed = classifyLocator(loc) === 'ssh' ? cfg?.ssh?.[loc] : loc;
    if (!relayed) throw new WasyncError('EUNSUPPORTED', `${loc}: ssh stores are not supported by this command`);
    let s = this.remotes.get(relayed);
    if (s) return s;
    if (isRelayLocator(relayed)) {
      s = new RelayedStore(relayed); // a library caller's store object or an ssh session (store-relay.ts)
    } else {
      s = new HttpStore(loc, this.client(cfg));
    }
    this.remotes.set(relayed, s);
    return s;
  }

  /** Limits this thread's requests to its share of --concurrency. */
  gate(cfg: RemoteConfig | undefined): Semaphore {
    const n = Math.max(1, cfg?.concurrency ?? 1);
    let g = this.gates.get(n);
    if (!g) this.gates.set(n, (g = new Semaphore(n)));
    return g;
  }

  private client(cfg: RemoteConfig | undefined): HttpClient {
    const key = cfg ? `${cfg.attempts}:${cfg.timeoutMs}:${cfg.token ?? ''}:${cfg.rateLimit?.bytesPerSecond ?? 0}` : '';
    let c = this.clients.get(key);
    if (!c) {
      const limit = cfg?.rateLimit;
      c = new HttpClient({
        attempts: cfg?.attempts,
        timeoutMs: cfg?.timeoutMs,
        token: cfg?.token,
        rateLimiter: limit ? new RateLimiter(limit.bytesPerSecond, limit.state) : null,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  /**
   * Starts fetching a chunk from the first remote store in `stores` unless a
   * local store before it has the chunk; what fromStores() will want anyway.
   */
  prefetch(stores: readonly string[], hex: string, cfg: RemoteConfig | undefined): Promise<StoredChunk | null> | null {
    for (const loc of stores) {
      if (!isRemote(loc)) {
        if (this.local(loc).has(hex)) return null;
        continue;
      }
      const store = this.remote(loc, cfg);
      const p = this.gate(cfg).run(() => store.get(hex));
      p.catch(() => {}); // fromStores() reports it, if it is still wanted
      return p;
    }
    return null;
  }

  /**
   * The verified bytes of chunk `id` (valid until the next call), from the first
   * store with a good copy, and what kind of store that was.  `early` is the
   * prefetch() of the first remote store.
   */
  async fromStores(
    stores: readonly string[],
    digest: DigestName,
    id: Uint8Array,
    hex: string,
    size: number,
    warnings: string[],
    cfg: RemoteConfig | undefined,
    early: Promise<StoredChunk | null> | null = null,
  ): Promise<{ data: Uint8Array; source: 'store' | 'cache' | 'remote' }> {
    let corrupt: WasyncError | null = null;
    let firstRemote = true;
    for (const loc of stores) {
      let copy: StoredChunk | null;
      const remote = isRemote(loc);
      if (!remote) {
        const c = this.local(loc).read(hex);
        copy = c && { data: c.data, compressed: c.compressed, where: c.path };
      } else {
        copy = await (early && firstRemote ? early : this.gate(cfg).run(() => this.remote(loc, cfg).get(hex)));
        firstRemote = false;
      }
      if (!copy) continue;
      let data = await this.check.unpack(digest, id, size, copy.data, copy.compressed);
      if (remote && typeof data === 'string') {
        // Damage in transit (a proxy, a flaky link) is worth one more download.
        const again = await this.gate(cfg).run(() => this.remote(loc, cfg).get(hex));
        if (again) {
          const second = await this.check.unpack(digest, id, size, again.data, again.compressed);
          if (typeof second !== 'string') {
            warnings.push(`chunk ${hex} from ${copy.where} was corrupt (${data}); downloaded it again`);
            copy = again;
          }
          data = second;
        }
      }
      if (typeof data !== 'string') {
        if (corrupt) warnings.push(`${corrupt.message}; used the copy in ${storeDisplayName(loc)}`);
        if (remote && cfg?.cache && copy.compressed) this.local(cfg.cache).write(hex, copy.data);
        return { data, source: remote ? 'remote' : loc === cfg?.cache ? 'cache' : 'store' };
      }
      corrupt ??= chunkCorrupt(hex, copy.where, data);
    }
    throw corrupt ?? chunkMissing(hex, stores.map(storeDisplayName));
  }
}
