// The stores of a StoreGraph as this thread builds them on Node: local
// directories (LocalStore), HTTP, S3 and OCI stores on node:http with kept-alive
// connections, and relayed objects (store-relay.ts); local and HTTP stores
// are read through their pack files where they have them (pack-store.ts).
// Built graphs are kept by their key, so that the jobs of one operation share
// stores, connections and the gate that holds this thread to its share of
// --concurrency.

import { HttpStore } from '../../../stores/http-store.ts';
import { S3Store } from '../../../stores/s3-store.ts';
import { OciStore } from '../../../stores/oci-store.ts';
import { RateLimiter } from '../../../stores/rate-limiter.ts';
import { Semaphore } from '../../../stores/semaphore.ts';
import { leafSettings, locationKey, storeOptionsFor } from '../../../stores/config-match.ts';
import { buildSource, buildWriteStore, type BuiltStores, type CheckOptions, type LeafSpec, type NetSpec, type StoreGraph, type StoreLeaves } from '../../../stores/store-graph.ts';
import type { ChunkSource, ChunkStore, WriteStore } from '../../../stores/store.ts';
import { ChainStore } from '../../../stores/chain-store.ts';
import { CheckedStore } from '../../../stores/checked-store.ts';
import type { DigestName } from '../../../chunk/digest.ts';
import { NodeChunks } from './node-check.ts';
import type { HttpClient } from '../../../stores/http-client.ts';
import { LocalStore } from './local-store.ts';
import { httpClient } from './node-fetch.ts';
import { RelayedStore } from './store-relay.ts';
import { nodeCiphers } from './node-cipher.ts';
import { PackStore } from '../../../stores/pack-store.ts';
import { HttpPackFiles } from '../../../stores/http-pack-files.ts';
import { LocalPackFiles } from './local-packs.ts';

/** Requests per thread: its share of the operation's concurrency. */
export const perThread = (net: NetSpec) => Math.max(1, Math.ceil(net.concurrency / Math.max(1, net.threads)));

/**
 * This thread's leaves: one gate per network setting and a client per token and TLS setting under it, one
 * LocalStore per directory; a remote store with options of its own in the
 * configuration (config-match.ts) gets its own client, and its own gate if
 * it has its own concurrency.
 */
export class NodeLeaves implements StoreLeaves {
  private readonly locals = new Map<string, LocalStore>();
  private readonly nets = new Map<string, { gate: Semaphore; clients: Map<string, HttpClient>; gates: Map<string, Semaphore> }>();
  private readonly packStores = new WeakMap<ChunkStore, PackStore>();
  readonly ciphers = nodeCiphers;

  leaf(spec: LeafSpec, net: NetSpec): ChunkStore {
    if (spec.kind === 'local') {
      let s = this.locals.get(spec.dir);
      if (!s) this.locals.set(spec.dir, (s = new LocalStore(spec.dir)));
      return s;
    }
    const n = this.net(net);
    if (spec.kind === 'relay') return new RelayedStore(spec, n.gate);
    const token = spec.kind === 'http' ? (spec.token ?? '') : '';
    const key = locationKey(spec.url, (p) => p);
    const own = storeOptionsFor(net.config, key);
    const l = leafSettings(net, key);
    const clientKey = `${token}\0${spec.tls ? JSON.stringify(spec.tls) : ''}\0${Object.keys(own).length ? key : ''}`;
    let client = n.clients.get(clientKey);
    if (!client) {
      const limit = l.rateLimit ?? net.rateLimit;
      client = httpClient({
        attempts: l.attempts,
        timeoutMs: l.timeoutMs,
        backoffMs: l.backoffMs,
        token: token || undefined,
        // --ca-cert and the like win over the configuration's files.
        tls: spec.tls,
        tlsFiles: l.tls,
        rateLimiter: limit ? new RateLimiter(limit.bytesPerSecond, limit.state) : null,
        config: net.config,
      });
      n.clients.set(clientKey, client);
    }
    let gate = n.gate;
    if (l.concurrency) {
      // The store's own share of requests for this thread.
      gate = n.gates.get(key) ?? new Semaphore(Math.max(1, Math.ceil(l.concurrency / Math.max(1, net.threads))));
      n.gates.set(key, gate);
    }
    if (spec.kind === 's3') return new S3Store(spec.url, client, gate);
    return spec.kind === 'oci' ? new OciStore(spec.url, client, gate) : new HttpStore(spec.url, client, gate);
  }

  /** Each leaf read through its pack files, one PackStore per leaf (so its pack index is read once a thread). */
  packed(leaf: ChunkStore, spec: LeafSpec, net: NetSpec): ChunkStore {
    let p = this.packStores.get(leaf);
    if (!p) {
      const files = leaf instanceof HttpStore ? new HttpPackFiles(leaf.name, leaf.client, leaf.gate) : new LocalPackFiles(spec.kind === 'local' ? spec.dir : leaf.name);
      this.packStores.set(leaf, (p = new PackStore(leaf, files, { maxRequests: leaf instanceof HttpStore ? perThread(net) : 1 })));
    }
    return p;
  }

  private net(net: NetSpec) {
    const key = `${perThread(net)}:${net.attempts}:${net.timeoutMs}:${net.rateLimit?.bytesPerSecond ?? 0}:${JSON.stringify(net.config ?? null)}`;
    let n = this.nets.get(key);
    if (!n) this.nets.set(key, (n = { gate: new Semaphore(perThread(net)), clients: new Map(), gates: new Map() }));
    return n;
  }
}

/** The graphs this thread has built, by key (the latest few operations'). */
export class BuiltGraphs {
  private readonly leaves = new NodeLeaves();
  private readonly sources = new Map<string, BuiltStores>();
  private readonly writers = new Map<string, WriteStore>();

  source(graph: StoreGraph, o: CheckOptions): BuiltStores {
    return remember(this.sources, `${graph.key}:${o.check.digest}`, () => buildSource(graph, this.leaves, o));
  }

  writer(graph: StoreGraph): WriteStore {
    return remember(this.writers, graph.key, () => buildWriteStore(graph, this.leaves));
  }
}

const KEPT = 8;

function remember<T>(m: Map<string, T>, key: string, make: () => T): T {
  let v = m.get(key);
  if (v === undefined) {
    m.set(key, (v = make()));
    if (m.size > KEPT) m.delete(m.keys().next().value as string);
  }
  return v;
}

/** `stores` tried in order on this thread, every copy checked (tests, small tools). */
export function checkedStores(stores: readonly ChunkStore[], digest: DigestName = 'sha512-256', onWarning?: (m: string) => void): ChunkSource {
  const check = new NodeChunks().check(digest);
  return new ChainStore(stores.map((s) => new CheckedStore(s, check, { onWarning })), { onWarning });
}
