// Which stores an operation uses, as objects, and their description for the
// worker threads.  A store is given as a path, a file://, http(s)://,
// s3+http(s):// or oci+http(s):// URL, an ssh location ([user@]host:path), a
// failover group of those (`a|b`, desync's notation), or an object: one of
// wasync's stores or anything with get, has and put.
//
// The stores read from, unless the caller gives their order itself (`stores`),
// are casync's (casync-format.md §7.4, §7.5): the store (--store, else
// default.castr beside the index), then the extra stores, local ones before
// remote ones; a cache (--cache) sits in front of the remote ones and keeps
// what they sent once it is checked.
//
// Objects that cannot describe themselves (a caller's own, memory, an ssh
// session) are served to the threads by a StoreRelay, which close() ends.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromHex } from '../../../chunk/chunk-id.ts';
import { ioError, unsupported, usageError } from '../../../errors.ts';
import { storeOptionsFor } from '../../../stores/config-match.ts';
import { CacheStore } from '../../../stores/cache-store.ts';
import { ChainStore } from '../../../stores/chain-store.ts';
import { HttpStore } from '../../../stores/http-store.ts';
import { FailoverStore } from '../../../stores/failover-store.ts';
import { isS3Locator } from '../../../stores/s3-location.ts';
import { S3Store } from '../../../stores/s3-store.ts';
import { isOciLocator } from '../../../stores/oci-location.ts';
import { OciStore } from '../../../stores/oci-store.ts';
import { classifyLocator, defaultStoreFor, isFailoverGroup, stripFileUrl } from '../../../stores/locator.ts';
import { describeStore, type StoreGraph } from '../../../stores/store-graph.ts';
import { isWriteStore, type ChunkStore, type StoreObject, type WriteStore } from '../../../stores/store.ts';
import { LocalStore } from '../storage/local-store.ts';
import { nodeCiphers } from '../storage/node-cipher.ts';
import { EncryptedStore } from '../../../stores/encrypted-store.ts';
import { cipherName, parseEncryptionKey, type CipherName } from '../../../stores/chunk-cipher.ts';
import { StoreRelay } from '../storage/store-relay.ts';
import { configKey, type Network } from './network.ts';

export type { StoreObject };

/** A path, a file://, http(s):// or ssh locator, or a store object. */
export type StoreLike = string | StoreObject | ChunkStore;

/** The stores an operation reads from: in the order given, or casync's choice. */
export interface StoreChoice {
  /** tried in this order (overrides the rest) */
  stores?: StoreLike | StoreLike[];
  /** the store; default default.castr beside the index */
  store?: StoreLike;
  extraStores?: StoreLike[];
  /** a local store kept of what remote stores sent, read before them */
  cache?: StoreLike;
  /**
   * Every store given as a path or URL (store, extra stores, cache) holds its
   * chunks encrypted, as desync lays them out: `key` 32 bytes (or 64 hex
   * digits), `cipher` xchacha20-poly1305 (default) or aes-256-gcm.  Store
   * objects are taken as they are (wrap them in an EncryptedStore).
   */
  encryption?: { key: string | Uint8Array; cipher?: CipherName };
}

/** Whether chunks of `s` are on this machine (read before remote ones). */
export const isLocal = (s: ChunkStore) => s instanceof LocalStore || (s instanceof EncryptedStore && s.inner instanceof LocalStore);

export class OperationStores {
  private relay: StoreRelay | null = null;

  /** `ssh`: whether ssh locations may be used (by this operation) */
  constructor(
    private readonly net: Network,
    private readonly ssh = true,
  ) {}

  /**
   * `s` as a store object, encrypted if `encryption` says so, else if the
   * configuration gives its location a key; `what` names it in messages about a bad value.
   */
  resolve(s: StoreLike, what = 'store', encryption?: StoreChoice['encryption']): ChunkStore {
    if (typeof s !== 'string') return asStore(s, what);
    // desync's failover group: `a|b` uses a, and b once a fails.
    if (isFailoverGroup(s)) return new FailoverStore(s.split('|').map((m, i) => this.resolve(m, `${what} (failover member ${i + 1})`, encryption)));
    const loc = stripFileUrl(s);
    const e = encryption ?? this.configuredEncryption(loc);
    if (!e) return this.plain(loc);
    if (classifyLocator(loc) === 'ssh') throw unsupported(`${s}: an ssh store cannot hold encrypted chunks (casync's protocol has no place for them)`);
    const key = typeof e.key === 'string' ? parseEncryptionKey(e.key) : e.key;
    return new EncryptedStore(this.plain(loc), { key, cipher: cipherName(e.cipher), ciphers: nodeCiphers });
  }

  /** The encryption the configuration file gives the store at `loc`, if any. */
  private configuredEncryption(loc: string): StoreChoice['encryption'] {
    const o = storeOptionsFor(this.net.config, configKey(loc));
    let key = o.encryptionKey;
    const at = `${this.net.config.file}: the encryption key for ${loc}`;
    if (o.encryptionKeyFile !== undefined) {
      try {
        key = readFileSync(o.encryptionKeyFile, 'utf8').trim();
      } catch (e) {
        throw ioError('EINPUT', o.encryptionKeyFile, e);
      }
    }
    return key === undefined ? undefined : { key: parseEncryptionKey(key, o.encryptionKeyFile ?? at), cipher: o.encryption };
  }

  private plain(loc: string): ChunkStore {
    const kind = classifyLocator(loc);
    if (kind === 'path') return new LocalStore(loc);
    if (kind === 'ssh') {
      if (!this.ssh) throw unsupported(`${loc}: ssh stores are not supported by this command`);
      return this.net.ssh.store(loc);
    }
    // classifyLocator refused the schemes wasync cannot reach.
    const { client, gate } = this.net.store(loc);
    if (isS3Locator(loc)) return new S3Store(loc, client, gate);
    if (isOciLocator(loc)) return new OciStore(loc, client, gate);
    return new HttpStore(loc, client, gate);
  }

  /** The locators of the stores `reading` would use (ssh ones share the index's connection: open it first). */
  locators(o: StoreChoice, index: string | null): string[] {
    return given(o, index)
      .filter((s): s is string => typeof s === 'string')
      .flatMap((s) => s.split('|'))
      .map(stripFileUrl);
  }

  /** The store chunks are read from, for an index at `index` (null: none, e.g. standard input). */
  reading(o: StoreChoice, index: string | null): ChunkStore {
    const all = given(o, index).map((s, i) => this.resolve(s, o.stores !== undefined ? `store ${i + 1}` : i ? 'extra store' : 'store', o.encryption));
    if (!all.length) throw usageError('no chunk store: give --store=PATH (or `store`): the index has no place beside which default.castr would be');
    if (o.stores !== undefined) return all.length === 1 ? all[0] : new ChainStore(all);
    const local: ChunkStore[] = all.filter(isLocal);
    const remote = all.filter((s) => !isLocal(s));
    if (o.cache !== undefined) {
      const cache = this.resolve(o.cache, 'cache', o.encryption);
      if (!isWriteStore(cache)) throw usageError(`${cache.name}: the cache must be a store that can be written to`);
      local.push(new CacheStore(cache, remote.length === 1 ? remote[0] : new ChainStore(remote)));
    } else local.push(...remote);
    return local.length === 1 ? local[0] : new ChainStore(local);
  }

  /** The stores `reading` would combine, one by one: failover groups taken apart, the cache last. */
  members(o: StoreChoice, index: string | null): ChunkStore[] {
    const all = [...given(o, index), ...(o.cache === undefined ? [] : [o.cache])].map((s) => this.resolve(s, 'store', o.encryption));
    return all.flatMap((s) => (s instanceof FailoverStore ? [...s.stores] : [s]));
  }

  /** The store new chunks are written to, for an index at `index`. */
  writing(store: StoreLike | undefined, index: string | null, encryption?: StoreChoice['encryption']): WriteStore {
    const [s] = given({ store }, index);
    if (s === undefined) throw usageError('no chunk store: give --store=PATH (or `store`) when the index is not a file');
    const w = this.resolve(s, 'store', encryption);
    if (!isWriteStore(w)) throw usageError(`${w.name}: chunks cannot be written to this store`);
    return w;
  }

  /** `store` described for jobs on `threads` threads. */
  graph(store: ChunkStore, threads: number): StoreGraph {
    const spec = describeStore(store, (s) => (this.relay ??= new StoreRelay()).add(s, s.name));
    return { key: randomBytes(8).toString('hex'), store: spec, net: this.net.spec(threads) };
  }

  close(): void {
    this.relay?.close();
    this.relay = null;
  }
}

/** The stores chosen, in order: those given, else the store (default: beside the index) and the extra stores. */
function given(o: StoreChoice, index: string | null): StoreLike[] {
  if (o.stores !== undefined) return Array.isArray(o.stores) ? o.stores : [o.stores];
  const store = o.store ?? (index === null ? undefined : defaultStoreFor(stripFileUrl(index)));
  return [...(store === undefined ? [] : [store]), ...(o.extraStores ?? [])];
}

/** A caller's object as a store; wasync's own stores are taken as they are. */
function asStore(s: StoreObject | ChunkStore, what: string): ChunkStore {
  if (!s || typeof s.get !== 'function' || typeof s.has !== 'function') {
    throw usageError(`${what}: expected a path, a URL or an object with get, has and put`);
  }
  if (typeof (s as ChunkStore).close === 'function' && typeof (s as ChunkStore).name === 'string') return s as ChunkStore;
  const o = s as StoreObject;
  if (typeof o.put !== 'function') throw usageError(`${what}: expected a path, a URL or an object with get, has and put`);
  const checkId = (id: string) => {
    if (!fromHex(id)) throw usageError(`${id}: not a chunk id (64 hex digits)`);
  };
  return {
    name: o.name ?? what,
    get: async (id) => (checkId(id), (await o.get(id)) ?? null),
    has: async (id) => (checkId(id), !!(await o.has(id))),
    put: async (id: string, chunk: Uint8Array) => (checkId(id), (await o.put(id, chunk)) !== false),
    remove: async () => {
      throw unsupported(`${o.name ?? what}: chunks cannot be removed from this store`);
    },
    async *list() {
      throw unsupported(`${o.name ?? what}: this store cannot be listed`);
    },
    close: async () => {},
  } as WriteStore;
}
