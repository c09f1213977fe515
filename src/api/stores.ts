// Chunk stores as the library API takes them: a path or URL (as on the command
// line), one of the stores made here (localStore, httpStore, MemoryStore), or
// any object with get/has/put.
//
// The engine's jobs run on worker threads and name stores by locator, so a
// store is bound for one operation: a local directory or HTTP store by its
// locator (each thread opens it itself, no copying through this thread), any
// other object through a StoreRelay (platform/node/store-relay.ts), which the
// operation closes when it ends.  ssh locations are the command line's only.

import { fromHex } from '../chunk/chunk-id.ts';
import { WasyncError, usageError } from '../errors.ts';
import type { RemoteConfig } from '../platform/node/pool/jobs.ts';
import { LocalStore } from '../platform/node/stores/local-store.ts';
import { StoreRelay } from '../platform/node/stores/store-relay.ts';
import { HttpStore } from '../stores/http-store.ts';
import { classifyLocator, defaultStoreFor, stripFileUrl } from '../stores/locator.ts';

/**
 * What a chunk store offers.  Ids are the 64 hex digits of a chunk id; the bytes
 * are a stored chunk as in a `.cacnk` file (zstd, gzip or xz, told apart by their
 * magic).  Every chunk read is checked against its id, whatever store it came from.
 */
export interface ChunkStore {
  /** how messages name the store */
  readonly name?: string;
  /** the stored bytes of the chunk, or null (or undefined) if the store lacks it */
  get(id: string): Promise<Uint8Array | null | undefined> | Uint8Array | null | undefined;
  has(id: string): Promise<boolean> | boolean;
  /** stores a compressed chunk; return false if it was already there */
  put(id: string, chunk: Uint8Array): unknown;
}

/** A store the engine's threads open themselves, by `locator` (a path or URL). */
export interface LocatedStore extends ChunkStore {
  readonly name: string;
  readonly locator: string;
  /** the bearer token an HTTP store sends */
  readonly token?: string;
}

/** A path, file:// or http(s):// URL, or a store object. */
export type StoreLike = string | ChunkStore;

/** As the command line's --concurrency. */
const DEFAULT_CONCURRENCY = 16;

const checkId = (id: string) => {
  if (!fromHex(id)) throw usageError(`${id}: not a chunk id (64 hex digits)`);
};

/** A casync store directory: <dir>/<4 hex>/<id>.cacnk. */
export function localStore(dir: string): LocatedStore {
  const s = new LocalStore(dir);
  return {
    name: dir,
    locator: dir,
    get(id) {
      checkId(id);
      const c = s.read(id);
      // read() hands out its reused buffer: keep a copy.
      return c && c.compressed ? Uint8Array.prototype.slice.call(c.data) : null;
    },
    has: (id) => (checkId(id), s.has(id)),
    put: (id, chunk) => (checkId(id), s.write(id, chunk)),
  };
}

export interface HttpStoreOptions {
  /** sent as "Authorization: Bearer …" (a writable `wasync serve` needs it for put) */
  token?: string;
}

/** A store served over HTTP(S) (casync's layout; put needs a server that takes PUT). */
export function httpStore(url: string, options: HttpStoreOptions = {}): LocatedStore {
  if (classifyLocator(url) !== 'url') throw usageError(`${url}: not an http:// or https:// URL`);
  const s = new HttpStore(url, { token: options.token });
  return {
    name: url,
    locator: url,
    token: options.token,
    get: async (id) => (await s.get(id))?.data ?? null,
    has: (id) => s.has(id),
    put: (id, chunk) => s.put(id, chunk),
  };
}

/** A store in memory (tests, caches, a front for another kind of storage). */
export class MemoryStore implements ChunkStore {
  readonly chunks = new Map<string, Uint8Array>();
  constructor(readonly name = 'memory store') {}
  get(id: string) {
    return this.chunks.get(id) ?? null;
  }
  has(id: string) {
    return this.chunks.has(id);
  }
  put(id: string, chunk: Uint8Array) {
    if (this.chunks.has(id)) return false;
    this.chunks.set(id, Uint8Array.prototype.slice.call(chunk));
    return true;
  }
}

/** Stores bound for one operation: locators for the engine, and the relay to close. */
export interface BoundStores {
  locators: string[];
  remote(threads: number): RemoteConfig;
  close(): void;
}

export interface RemoteOptions {
  /** requests to HTTP and relayed stores in flight at once, over all threads (default 16) */
  concurrency?: number;
}

/** Binds `stores` (in the order they are tried) for one operation. */
export function bindStores(stores: readonly StoreLike[], o: RemoteOptions = {}): BoundStores {
  let relay: StoreRelay | null = null;
  const tokens = new Set<string>();
  const locators = stores.map((s, i) => {
    if (typeof s === 'string') {
      const loc = stripFileUrl(s);
      if (classifyLocator(loc) === 'ssh') throw new WasyncError('EUNSUPPORTED', `${s}: ssh stores are supported by the command line only`);
      return loc;
    }
    if (!s || typeof s.get !== 'function' || typeof s.has !== 'function' || typeof s.put !== 'function') {
      throw usageError(`store ${i + 1}: expected a path, a URL or an object with get, has and put`);
    }
    const located = s as Partial<LocatedStore>;
    if (typeof located.locator === 'string') {
      if (located.token) tokens.add(located.token);
      return located.locator;
    }
    relay ??= new StoreRelay();
    return relay.add(s, s.name ?? `store object ${i + 1}`);
  });
  if (tokens.size > 1) throw usageError('HTTP stores with different tokens cannot be used in one operation');
  const token = [...tokens][0];
  const concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(Number.isSafeInteger(concurrency) && concurrency >= 1)) throw usageError(`concurrency ${concurrency}: expected a positive whole number`);
  return {
    locators,
    remote: (threads) => ({
      concurrency: Math.max(1, Math.ceil(concurrency / Math.max(1, threads))),
      attempts: 6,
      timeoutMs: 30_000,
      token,
      rateLimit: null,
      cache: null,
    }),
    close: () => (relay as StoreRelay | null)?.close(),
  };
}

/** The stores given, or casync's default: default.castr beside the index. */
export function storesOrDefault(stores: StoreLike | readonly StoreLike[] | undefined, index: string | null): StoreLike[] {
  if (stores !== undefined) return Array.isArray(stores) ? [...stores] : [stores as StoreLike];
  if (index === null) throw usageError('no chunk store: give `store` (or `stores`) when the index is not a file');
  return [defaultStoreFor(stripFileUrl(index))];
}
