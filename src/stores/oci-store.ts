// A chunk store in an OCI registry repository, in desync's layout: chunk `<id>`
// is the artifact tagged `<id>.cacnk` (oci-location.ts), its blob the stored
// chunk.  The store asks for oci+ locators of its chunks through an HttpClient
// whose fetch speaks the registry's API for them (oci-fetch.ts), so retries,
// timeouts, authentication and the rate limit are the client's, as for
// HttpStore and S3Store; the gate bounds this thread's requests in flight.
// A registry cannot put a tag only if it is absent, so make asks with has()
// first, which reads the chunk's manifest.

import { CHUNK_SUFFIX } from '../chunk/chunk-id.ts';
import { networkError } from '../errors.ts';
import type { HttpClient } from './http-client.ts';
import { ociLocator, ociWhere, parseOciLocator, redact, type OciLocation } from './oci-location.ts';
import type { Semaphore } from './semaphore.ts';
import type { StoreSpec } from './store-graph.ts';
import type { WriteStore } from './store.ts';

export class OciStore implements WriteStore {
  private readonly loc: OciLocation;
  readonly name: string;

  constructor(
    /** the locator, oci+http(s)://[user:password@]host[:port]/repository */
    readonly locator: string,
    readonly client: HttpClient,
    private readonly gate?: Semaphore,
    /** what chunk tags are named with after their id (an encrypted store's is longer: encrypted-store.ts) */
    readonly suffix = CHUNK_SUFFIX,
  ) {
    this.loc = parseOciLocator(locator);
    this.loc.query = '';
    if (this.loc.tag !== null) throw networkError(`${ociWhere(this.loc)}: a chunk store is a repository; ${this.loc.tag} names a file in it`);
    this.name = redact(locator);
  }

  /** The same store, its chunks tagged `<id><suffix>`. */
  withSuffix(suffix: string): OciStore {
    return new OciStore(this.locator, this.client, this.gate, suffix);
  }

  private url(id: string): string {
    return ociLocator(this.loc, `${id}${this.suffix}`);
  }

  where(id: string): string {
    return `${this.name} (${ociWhere(this.loc, `${id}${this.suffix}`)})`;
  }

  get(id: string): Promise<Uint8Array | null> {
    return this.run(() => this.client.get(this.url(id)));
  }

  has(id: string): Promise<boolean> {
    return this.run(async () => {
      const status = await this.client.send('HEAD', this.url(id));
      if (status === 200 || status === 404) return status === 200;
      throw this.failed('HEAD', id, status);
    });
  }

  /** Pushes the chunk's blob and its tagged manifest; always true (the registry cannot tell a new tag from a rewritten one). */
  put(id: string, chunk: Uint8Array): Promise<boolean> {
    return this.run(async () => {
      const status = await this.client.send('PUT', this.url(id), chunk);
      if (status === 201) return true;
      throw this.failed('PUT', id, status);
    });
  }

  /** Deletes the chunk's manifest (the blob is the registry's garbage collection's). */
  remove(id: string): Promise<boolean> {
    return this.run(async () => {
      const status = await this.client.send('DELETE', this.url(id));
      if (status === 204 || status === 404) return status === 204;
      throw this.failed('DELETE', id, status);
    });
  }

  /**
   * Every chunk id tagged in the repository, page by page.  A page is asked
   * after the last tag of the one before, until one comes back empty, so a
   * registry that sends fewer tags than asked for is still read to its end.
   */
  async *list(): AsyncIterable<string> {
    const re = new RegExp(`^([0-9a-f]{64})${this.suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    let last: string | null = null;
    for (;;) {
      const query: string = `tags${last === null ? '' : `&last=${encodeURIComponent(last)}`}`;
      const body = await this.run(() => this.client.get(ociLocator(this.loc, null, query)));
      let tags: unknown;
      try {
        tags = body && (JSON.parse(new TextDecoder().decode(body)) as { tags?: unknown }).tags;
      } catch {
        throw networkError(`${ociWhere(this.loc)}: the tag list is not JSON`);
      }
      if (tags === null || tags === undefined) return; // a repository without tags
      if (!Array.isArray(tags)) throw networkError(`${ociWhere(this.loc)}: the tag list has no list of tags`);
      if (!tags.length || tags[tags.length - 1] === last) return;
      for (const tag of tags) {
        const id = typeof tag === 'string' ? re.exec(tag)?.[1] : undefined;
        if (id) yield id;
      }
      last = String(tags[tags.length - 1]);
    }
  }

  async close(): Promise<void> {}

  describe(): StoreSpec {
    return { kind: 'oci', url: this.locator };
  }

  private failed(method: string, id: string, status: number): Error {
    return networkError(`${ociWhere(this.loc, `${id}${this.suffix}`)}: ${method} answered ${status}`);
  }

  private run<T>(request: () => Promise<T>): Promise<T> {
    return this.gate ? this.gate.run(request) : request();
  }
}
