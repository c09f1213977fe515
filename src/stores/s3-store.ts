// A chunk store in an S3 bucket, in desync's layout (s3-location.ts): chunk
// `<id>` at `<prefix><4hex>/<id>.cacnk`.  Requests go through an HttpClient
// whose fetch signs s3+ locators (s3-fetch.ts), so retries, backoff on 5xx and
// SlowDown, resumption and the rate limit are the client's, as for HttpStore;
// the gate bounds this thread's requests in flight.
//
// A missing key answers 404 as a missing chunk does, and so does a HEAD in a
// missing bucket (a HEAD has no body to say which): the first 404 to a HEAD
// asks once whether the bucket exists, so that a store in a missing bucket
// is an error, not a store without chunks.  S3 cannot put a key only if it is
// absent everywhere (Swift refuses If-None-Match), so make asks with HEAD first.

import { CHUNK_SUFFIX, chunkPathBase } from '../chunk/chunk-id.ts';
import { networkError } from '../errors.ts';
import type { HttpClient } from './http-client.ts';
import { parseS3Locator, s3Locator, s3Where, type S3Location } from './s3-location.ts';
import type { Semaphore } from './semaphore.ts';
import type { StoreSpec } from './store-graph.ts';
import type { WriteStore } from './store.ts';

const ID_RE = /^[0-9a-f]{64}$/;

export class S3Store implements WriteStore {
  private readonly loc: S3Location;
  /** the chunks' keys start with this ('' or ending in '/') */
  readonly prefix: string;
  private bucketChecked: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly client: HttpClient,
    private readonly gate?: Semaphore,
    /** what chunk objects are named with after their id (an encrypted store's is longer: encrypted-store.ts) */
    readonly suffix = CHUNK_SUFFIX,
  ) {
    this.loc = parseS3Locator(name);
    this.prefix = this.loc.key ? `${this.loc.key}/` : '';
  }

  /** The same store, its chunk objects named `<id><suffix>`. */
  withSuffix(suffix: string): S3Store {
    return new S3Store(this.name, this.client, this.gate, suffix);
  }

  private key(id: string): string {
    return `${this.prefix}${chunkPathBase(id)}${this.suffix}`;
  }

  private url(key: string, query = ''): string {
    return s3Locator(this.loc, key, query);
  }

  where(id: string): string {
    return `${this.name.replace(/\?.*$/, '')} (${s3Where(this.loc, this.key(id))})`;
  }

  get(id: string): Promise<Uint8Array | null> {
    return this.run(() => this.client.get(this.url(this.key(id))));
  }

  has(id: string): Promise<boolean> {
    return this.run(async () => {
      const status = await this.client.send('HEAD', this.url(this.key(id)));
      if (status === 200) return true;
      if (status === 404) return this.bucketExists().then(() => false);
      throw this.failed('HEAD', id, status);
    });
  }

  put(id: string, chunk: Uint8Array): Promise<boolean> {
    return this.run(async () => {
      const status = await this.client.send('PUT', this.url(this.key(id)), chunk);
      if (status >= 200 && status < 300) return true;
      throw this.failed('PUT', id, status);
    });
  }

  remove(id: string): Promise<boolean> {
    return this.run(async () => {
      const status = await this.client.send('DELETE', this.url(this.key(id)));
      if (status === 204 || status === 200) return true;
      if (status === 404) return false;
      throw this.failed('DELETE', id, status);
    });
  }

  /** Every chunk id under the prefix (ListObjectsV2, page by page); other keys are passed over. */
  async *list(): AsyncIterable<string> {
    let token: string | null = null;
    do {
      const query = `list-type=2&prefix=${encodeURIComponent(this.prefix)}${token === null ? '' : `&continuation-token=${encodeURIComponent(token)}`}`;
      const url = this.url('', query);
      const body = await this.run(() => this.client.get(url));
      if (!body) throw networkError(`S3 ${s3Where(this.loc)} at ${this.loc.endpoint}: the bucket does not exist`);
      const xml = new TextDecoder().decode(body);
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
        const key = unescapeXml(m[1]);
        const rest = key.slice(this.prefix.length);
        if (!rest.endsWith(this.suffix)) continue;
        const id = /^[0-9a-f]{4}\/([0-9a-f]{64})$/.exec(rest.slice(0, -this.suffix.length))?.[1];
        if (id && ID_RE.test(id) && rest.startsWith(id.slice(0, 4))) yield id;
      }
      const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
      token = truncated ? unescapeXml(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? '') : null;
      if (truncated && !token) throw networkError(`S3 ${s3Where(this.loc)}: a truncated listing without a continuation token`);
    } while (token !== null);
  }

  async close(): Promise<void> {}

  describe(): StoreSpec {
    return { kind: 's3', url: this.name, tls: this.client.o.tls };
  }

  /** Fails, naming the bucket, if it does not exist (asked once). */
  private bucketExists(): Promise<void> {
    this.bucketChecked ??= this.client.send('HEAD', this.url('')).then((status) => {
      if (status === 404) throw networkError(`S3 ${s3Where(this.loc)} at ${this.loc.endpoint}: NoSuchBucket (the bucket does not exist)`);
    });
    return this.bucketChecked;
  }

  private failed(method: string, id: string, status: number): Error {
    const why = status === 403 ? ' (access denied or a wrong signature: check S3_ACCESS_KEY and S3_SECRET_KEY)' : '';
    return networkError(`S3 ${s3Where(this.loc, this.key(id))} at ${this.loc.endpoint}: ${method} answered ${status}${why}`);
  }

  private run<T>(request: () => Promise<T>): Promise<T> {
    return this.gate ? this.gate.run(request) : request();
  }
}

const unescapeXml = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
