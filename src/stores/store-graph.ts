// Store graphs as data, so that worker threads can build the same stores the
// calling thread has.  A job carries a StoreGraph: a tree of specs (a local
// directory, an HTTP store, a relayed object; chains, failover groups and
// caches over them) and the network settings of its operation.  Each thread
// builds it once (the key names it) with its platform's leaves.
//
// Building for reading wraps every leaf in a CheckedStore, so that whatever a
// caller composed, each copy is checked where it was found and a corrupt one
// falls through to the next store (an encrypted store counts as a leaf: it is
// checked above its decryption).  What has no description of its own (a
// caller's store object, an ssh session) is described as a relay entry: the
// calling thread serves it, and the threads reach it through the relay.

import { CacheStore } from './cache-store.ts';
import { ChainStore } from './chain-store.ts';
import { CheckedStore, type ChunkCheck } from './checked-store.ts';
import { FailoverStore } from './failover-store.ts';
import { writable, type ChunkSource, type ChunkStore, type WriteStore } from './store.ts';
import { EncryptedStore } from './encrypted-store.ts';
import type { CipherFactory, CipherName } from './chunk-cipher.ts';
import { fromHex } from '../chunk/chunk-id.ts';
import type { WasyncConfig } from './store-config.ts';
import type { TlsOptions } from './http-client.ts';

export type StoreSpec =
  | { kind: 'local'; dir: string }
  | { kind: 'http'; url: string; token?: string; tls?: TlsOptions }
  /** an S3 bucket (s3+http(s)://host/bucket[/prefix]); each thread takes the credentials from its environment */
  | { kind: 's3'; url: string; tls?: TlsOptions }
  /** an OCI registry repository (oci+http(s)://host/repository); each thread takes credentials from its environment */
  | { kind: 'oci'; url: string; tls?: TlsOptions }
  | { kind: 'relay'; channel: string; store: number; name: string }
  | { kind: 'chain'; stores: StoreSpec[] }
  | { kind: 'failover'; stores: StoreSpec[] }
  | { kind: 'cache'; cache: StoreSpec; store: StoreSpec }
  /** a local, HTTP, S3 or OCI store holding chunks sealed with `key` (64 hex digits), desync's layout */
  | { kind: 'encrypted'; store: LeafSpec; cipher: CipherName; key: string };

export type LeafSpec = Extract<StoreSpec, { kind: 'local' | 'http' | 's3' | 'oci' | 'relay' }>;

/** How an operation reaches remote stores; plain data (the rate limit's clock is shared memory). */
export interface NetSpec {
  /** requests in flight at once over all threads, and the threads that share them */
  concurrency: number;
  threads: number;
  /** attempts per request, the first included */
  attempts: number;
  /** a request gives up after this long without a byte */
  timeoutMs: number;
  rateLimit: { bytesPerSecond: number; state: SharedArrayBuffer | ArrayBuffer } | null;
  /** the first retry's delay (default the client's) */
  backoffMs?: number;
  /** the configuration file's per-store options, those the command line gave removed (config-match.ts) */
  config?: WasyncConfig;
  /** the bandwidth of each store that has its own, by location (shared by the threads) */
  limits?: Record<string, { bytesPerSecond: number; state: SharedArrayBuffer | ArrayBuffer }>;
}

export interface StoreGraph {
  /** names the graph, so that each thread builds it once */
  key: string;
  store: StoreSpec;
  net: NetSpec;
}

/** A store that can say what it is as data (the stores a thread can build itself). */
export interface Describable {
  describe(inner: (s: ChunkStore) => StoreSpec): StoreSpec;
}

const describable = (s: ChunkStore): s is ChunkStore & Describable => typeof (s as Partial<Describable>).describe === 'function';

/** The spec of `store`; what cannot describe itself goes through `relay`. */
export function describeStore(store: ChunkStore, relay: (s: ChunkStore) => StoreSpec): StoreSpec {
  if (store instanceof CheckedStore) return describeStore(store.inner, relay);
  const inner = (s: ChunkStore) => describeStore(s, relay);
  if (store instanceof ChainStore) return { kind: 'chain', stores: store.stores.map(inner) };
  if (store instanceof FailoverStore) return { kind: 'failover', stores: store.stores.map(inner) };
  if (store instanceof CacheStore) return { kind: 'cache', cache: inner(store.cache), store: inner(store.store) };
  return describable(store) ? store.describe(inner) : relay(store);
}

/** The stores of a platform, as a thread makes them from their specs. */
export interface StoreLeaves {
  leaf(spec: LeafSpec, net: NetSpec): ChunkStore;
  /**
   * A local or HTTP leaf as it is read: through its pack files where it has
   * them (pack-store.ts).  Without this, leaves are read as they are.
   */
  packed?(leaf: ChunkStore, spec: LeafSpec, net: NetSpec): ChunkStore;
  /** the platform's ciphers for encrypted stores (default @noble/ciphers') */
  ciphers?: CipherFactory;
}

/** Where a chunk came from, as extraction counts it. */
export type SourceKind = 'store' | 'cache' | 'remote';

export interface BuiltStores {
  /** the whole graph, every leaf checked */
  source: ChunkSource;
  /** which kind of store a leaf of the graph (ChunkRead.store) is */
  kindOf(store: ChunkStore): SourceKind;
  /** the graph has stores reached over the network */
  remote: boolean;
}

export interface CheckOptions {
  check: ChunkCheck;
  onWarning(message: string): void;
}

/** The graph as stores that check every chunk they hand out. */
export function buildSource(graph: StoreGraph, leaves: StoreLeaves, o: CheckOptions): BuiltStores {
  const kinds = new WeakMap<ChunkStore, SourceKind>();
  let remote = false;
  const source = build(graph, leaves, o.onWarning, (plain, spec, cache) => {
    // A cache is written to as it is read: it keeps plain chunk files only.
    const leaf = !cache && leaves.packed && (spec.kind === 'local' || spec.kind === 'http') ? leaves.packed(plain, spec, graph.net) : plain;
    const isRemote = spec.kind !== 'local';
    remote ||= isRemote;
    kinds.set(leaf, isRemote ? 'remote' : cache ? 'cache' : 'store');
    return new CheckedStore(leaf, o.check, { rereadCorrupt: isRemote, onWarning: o.onWarning });
  });
  // Every store build() returns is a ChunkSource here: leaves are checked, combinators pass reads on.
  return { source: source as ChunkSource, kindOf: (s) => kinds.get(s) ?? 'store', remote };
}

/** The graph as the store chunks are written to (make): one store, or a failover group. */
export function buildWriteStore(graph: StoreGraph, leaves: StoreLeaves): WriteStore {
  return writable(build(graph, leaves, () => {}, (leaf) => leaf));
}

function build(
  graph: StoreGraph,
  leaves: StoreLeaves,
  onWarning: (m: string) => void,
  wrap: (leaf: ChunkStore, spec: LeafSpec, inCache: boolean) => ChunkStore,
): ChunkStore {
  const b = (spec: StoreSpec, cache: boolean): ChunkStore => {
    switch (spec.kind) {
      case 'chain':
        return new ChainStore(spec.stores.map((s) => b(s, cache)), { onWarning });
      case 'failover':
        return new FailoverStore(spec.stores.map((s) => b(s, cache)));
      case 'cache':
        return new CacheStore(writable(b(spec.cache, true)), b(spec.store, cache));
      case 'encrypted': {
        // Sealed chunks are opened beneath the check, which sees the compressed chunk as from any leaf.
        const inner = leaves.leaf(spec.store, graph.net);
        return wrap(new EncryptedStore(inner, { key: fromHex(spec.key)!, cipher: spec.cipher, ciphers: leaves.ciphers }), spec.store, cache);
      }
      default:
        return wrap(leaves.leaf(spec, graph.net), spec, cache);
    }
  };
  return b(graph.store, false);
}
