// A chunk store over HTTP(S), laid out as casync expects (casync-format.md §7.6):
// each chunk at <store-url>/<4hex>/<64hex>.cacnk, the URL cut at its first '?' or
// ';' and stripped of trailing slashes first.  A chunk fetched over HTTP is
// always the compressed .cacnk.  Writing (PUT) needs a server that takes it, such
// as `wasync serve --writable`; HTTP has no listing, so gc cannot prune one.
//
// Retries (backoff on failed connections, 5xx, stalls; resumed downloads) are
// the HttpClient's.  The gate, when given, bounds this thread's requests in
// flight, shared with the other remote stores of the operation.

import { CHUNK_SUFFIX, chunkPathBase } from '../chunk/chunk-id.ts';
import { networkError, unsupported } from '../errors.ts';
import { HttpClient } from './http-client.ts';
import type { Semaphore } from './semaphore.ts';
import type { StoreSpec } from './store-graph.ts';
import type { WriteStore } from './store.ts';

export const storeBaseUrl = (url: string) => url.replace(/[?;].*$/, '').replace(/\/+$/, '');

export class HttpStore implements WriteStore {
  private readonly base: string;

  constructor(
    readonly name: string,
    readonly client: HttpClient = new HttpClient(),
    /** bounds this thread's requests in flight (shared with the store's pack files: http-pack-files.ts) */
    readonly gate?: Semaphore,
    /** what chunk files are named with after their id (an encrypted store's is longer: encrypted-store.ts) */
    readonly suffix = CHUNK_SUFFIX,
  ) {
    this.base = storeBaseUrl(name);
  }

  /** The same store, its chunk files named `<id><suffix>`. */
  withSuffix(suffix: string): HttpStore {
    return new HttpStore(this.name, this.client, this.gate, suffix);
  }

  chunkUrl(id: string): string {
    return `${this.base}/${chunkPathBase(id)}${this.suffix}`;
  }

  where(id: string): string {
    return this.chunkUrl(id);
  }

  get(id: string): Promise<Uint8Array | null> {
    return this.run(() => this.client.get(this.chunkUrl(id)));
  }

  has(id: string): Promise<boolean> {
    return this.run(async () => {
      const url = this.chunkUrl(id);
      const status = await this.client.send('HEAD', url);
      if (status === 200) return true;
      if (status === 404) return false;
      throw networkError(`${url}: HEAD answered ${status}`);
    });
  }

  /** Uploads a stored chunk; false if the server already had it. */
  put(id: string, chunk: Uint8Array): Promise<boolean> {
    return this.run(async () => {
      const url = this.chunkUrl(id);
      const status = await this.client.send('PUT', url, chunk);
      if (status === 201 || status === 204 || status === 200) return status === 201;
      const why = status === 401 || status === 403 ? ' (a writable server and the right --token are needed)' : '';
      throw networkError(`${url}: PUT answered ${status}${why}`);
    });
  }

  async remove(): Promise<boolean> {
    throw unsupported(`${this.name}: chunks cannot be removed over HTTP`);
  }

  async *list(): AsyncIterable<string> {
    throw unsupported(`${this.name}: an HTTP store cannot be listed`);
  }

  async close(): Promise<void> {}

  describe(): StoreSpec {
    return { kind: 'http', url: this.name, token: this.client.o.token, tls: this.client.o.tls };
  }

  private run<T>(request: () => Promise<T>): Promise<T> {
    return this.gate ? this.gate.run(request) : request();
  }
}
