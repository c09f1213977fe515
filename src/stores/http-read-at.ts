// A remote archive (.catar over HTTP(S)) read at offsets with Range requests,
// for mounting one without downloading it.  Runtime-neutral: plain fetch, with
// the token, rate limit, attempts and timeout of the run's HttpClient.
//
// Lookups read a few dozen bytes at scattered offsets (GOODBYE items, FILENAME
// and ENTRY records), so the file is read in aligned blocks (256 KiB) kept in a
// bounded LRU of promises: neighbouring small reads share one request, and
// concurrent reads of one block share its fetch.  A read that starts where the
// previous one ended fetches the next blocks early.
//
// The size comes from a HEAD request (Content-Length).  Every block must come
// back as 206 with exactly the bytes asked for; a server that ignores Range
// (200 with the whole file) is refused, since each read would fetch it all.
// Failed connections, 5xx, 429, 408 and short bodies are retried with backoff.

import { WasyncError, networkError } from '../errors.ts';
import { checkRange, type ReadAt } from '../engine/random-access.ts';
import { HttpClient, sleep } from './http-client.ts';

export interface HttpReadAtOptions {
  /** bytes per request (default 256 KiB) */
  blockSize?: number;
  /** blocks kept (default 64) */
  cacheBlocks?: number;
  /** blocks fetched ahead of a sequential reader (default 2) */
  readAhead?: number;
}

const RETRY_STATUS = (s: number) => s >= 500 || s === 429 || s === 408;
/** An answer rather than a result (the fetch on node:http makes its own Response objects). */
const isResponse = (r: object): r is Response => typeof (r as Response).status === 'number' && typeof (r as Response).headers === 'object';

export class HttpReadAt implements ReadAt {
  private readonly blocks = new Map<number, Promise<Uint8Array>>();
  private readonly blockSize: number;
  private readonly cap: number;
  private readonly ahead: number;
  private lastEnd = -1;
  /** range requests sent (for tests and statistics) */
  requests = 0;

  private constructor(
    readonly url: string,
    readonly size: number,
    private readonly client: HttpClient,
    o: HttpReadAtOptions,
  ) {
    this.blockSize = o.blockSize ?? 256 * 1024;
    this.cap = Math.max(1, o.cacheBlocks ?? 64);
    this.ahead = Math.max(0, Math.min(o.readAhead ?? 2, this.cap - 1));
  }

  /** Learns the size of `url` (HEAD) and returns a reader for it. */
  static async open(url: string, client: HttpClient = new HttpClient(), o: HttpReadAtOptions = {}): Promise<HttpReadAt> {
    const res = await retrying(client, url, 'HEAD', async (signal) => {
      const r = await client.fetch(url, { method: 'HEAD', headers: headers(client), signal });
      await r.body?.cancel();
      return r;
    });
    if (res.status === 404) throw networkError(`${url}: not found (404)`);
    if (res.status !== 200) throw networkError(`${url}: HEAD answered ${res.status} ${res.statusText}`.trim());
    const size = Number(res.headers.get('content-length') ?? NaN);
    if (!Number.isSafeInteger(size) || size < 0) throw networkError(`${url}: the server states no size (Content-Length) for HEAD`);
    return new HttpReadAt(url, size, client, o);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, this.url);
    if (length === 0) return new Uint8Array(0);
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    const sequential = offset === this.lastEnd;
    this.lastEnd = offset + length;
    const wanted: Promise<Uint8Array>[] = [];
    for (let b = first; b <= last; b++) wanted.push(this.block(b));
    if (sequential) {
      for (let b = last + 1; b <= last + this.ahead && b * bs < this.size; b++) {
        if (!this.blocks.has(b)) this.block(b).catch(() => {});
      }
    }
    if (first === last) {
      const at = offset - first * bs;
      return (await wanted[0]).subarray(at, at + length);
    }
    const out = new Uint8Array(length);
    for (let k = 0; k < wanted.length; k++) {
      const start = (first + k) * bs;
      const data = await wanted[k];
      const from = Math.max(offset, start);
      const to = Math.min(offset + length, start + data.length);
      out.set(data.subarray(from - start, to - start), from - offset);
    }
    return out;
  }

  private block(b: number): Promise<Uint8Array> {
    let p = this.blocks.get(b);
    if (p) {
      this.blocks.delete(b);
      this.blocks.set(b, p);
      return p;
    }
    const start = b * this.blockSize;
    p = this.fetchRange(start, Math.min(this.size, start + this.blockSize));
    this.blocks.set(b, p);
    p.catch(() => {
      if (this.blocks.get(b) === p) this.blocks.delete(b);
    });
    while (this.blocks.size > this.cap) this.blocks.delete(this.blocks.keys().next().value as number);
    return p;
  }

  /** Bytes [start, end) in one Range request (retried). */
  private async fetchRange(start: number, end: number): Promise<Uint8Array> {
    this.requests++;
    const range = `bytes=${start}-${end - 1}`;
    const bytes = await retrying(this.client, this.url, `GET ${range}`, async (signal) => {
      const r = await this.client.fetch(this.url, { headers: headers(this.client, { range }), signal });
      if (r.status !== 206) {
        await r.body?.cancel();
        return r;
      }
      const body = await bodyOf(r, end - start);
      if (body.length !== end - start) throw new Retry(`the body of ${range} has ${body.length} bytes`);
      await this.client.o.rateLimiter?.take(body.length);
      return body;
    });
    if (!(bytes instanceof Uint8Array)) {
      const why = bytes.status === 200 ? 'the server ignores Range requests' : `answered ${bytes.status} ${bytes.statusText}`.trim();
      throw networkError(`${this.url}: GET ${range}: ${why}`);
    }
    return bytes;
  }
}

/** A failure of one attempt that another may mend (thrown inside `retrying`). */
export class Retry extends Error {}

/** The whole body, read through its stream (the one part of a Response every platform's fetch gives). */
async function bodyOf(r: Response, expected: number): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let at = 0;
  const reader = r.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > expected) throw new Retry(`the body is longer than the ${expected} bytes asked for`);
    out.set(value, at);
    at += value.length;
  }
  return at === expected ? out : out.subarray(0, at);
}

export function headers(client: HttpClient, extra: Record<string, string> = {}): Record<string, string> {
  return client.o.token ? { ...extra, authorization: `Bearer ${client.o.token}` } : extra;
}

/** Runs `attempt` until it returns a non-retryable answer, as HttpClient retries. */
export async function retrying<T extends object>(
  client: HttpClient,
  url: string,
  what: string,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const attempts = Math.max(1, client.o.attempts ?? 6);
  const timeoutMs = client.o.timeoutMs ?? 30_000;
  let last = '';
  for (let n = 1; ; n++) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const r = await attempt(abort.signal);
      if (!isResponse(r) || !RETRY_STATUS(r.status)) return r;
      last = `answered ${r.status} ${r.statusText}`.trim();
    } catch (e) {
      // The fetch refused (a certificate, credentials): said in full already, and no retry mends it.
      if (e instanceof WasyncError) throw e;
      const cause = (e as { cause?: { code?: string } }).cause;
      last = abort.signal.aborted ? `no answer for ${timeoutMs / 1000} s` : cause?.code ?? (e as Error).message;
    } finally {
      clearTimeout(timer);
    }
    if (n >= attempts) throw networkError(`${url}: ${what}: ${last}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`);
    await sleep((client.o.backoffMs ?? 200) * 2 ** (n - 1));
  }
}
