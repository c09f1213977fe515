// A chunk store over HTTP(S), laid out as casync expects (casync-format.md §7.6):
// each chunk at <store-url>/<4hex>/<64hex>.cacnk, the URL cut at its first '?' or
// ';' and stripped of trailing slashes first.  A chunk fetched over HTTP is
// always the compressed .cacnk.  Writing (PUT) needs a server that takes it, such
// as `wasync serve --writable`.

import { CHUNK_SUFFIX, chunkPathBase } from '../chunk/chunk-id.ts';
import type { ChunkStoreReader, StoredChunk } from '../engine/random-access.ts';
import { networkError } from '../errors.ts';
import { HttpClient, type HttpOptions } from './http-client.ts';

export const storeBaseUrl = (url: string) => url.replace(/[?;].*$/, '').replace(/\/+$/, '');

export class HttpStore implements ChunkStoreReader {
  readonly name: string;
  private readonly base: string;
  private readonly client: HttpClient;

  constructor(url: string, o: HttpOptions | HttpClient = {}) {
    this.name = url;
    this.base = storeBaseUrl(url);
    this.client = o instanceof HttpClient ? o : new HttpClient(o);
  }

  chunkUrl(hex: string): string {
    return `${this.base}/${chunkPathBase(hex)}${CHUNK_SUFFIX}`;
  }

  async get(hex: string): Promise<StoredChunk | null> {
    const url = this.chunkUrl(hex);
    const data = await this.client.get(url);
    return data && { data, compressed: true, where: url };
  }

  async has(hex: string): Promise<boolean> {
    const url = this.chunkUrl(hex);
    const status = await this.client.send('HEAD', url);
    if (status === 200) return true;
    if (status === 404) return false;
    throw networkError(`${url}: HEAD answered ${status}`);
  }

  /** Uploads a compressed chunk; false if the server already had it. */
  async put(hex: string, compressed: Uint8Array): Promise<boolean> {
    const url = this.chunkUrl(hex);
    const status = await this.client.send('PUT', url, compressed);
    if (status === 201 || status === 204 || status === 200) return status === 201;
    const why = status === 401 || status === 403 ? ' (a writable server and the right --token are needed)' : '';
    throw networkError(`${url}: PUT answered ${status}${why}`);
  }
}
