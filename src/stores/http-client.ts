// HTTP(S) requests for remote indexes, archives and stores, on the platform's
// plain `fetch` (Node, Bun, Deno, browsers), so one client serves everywhere.
//
// A request is retried, with exponential backoff, when the connection fails, the
// server answers 5xx or 429, no byte arrives for `timeoutMs`, or the body ends
// early; a download that broke off resumes with a Range request where the server
// allows it.  404 is an answer, not a failure: a store without a chunk.  Every
// other status fails at once, naming the URL and the status.

import { WasyncError, networkError } from '../errors.ts';
import type { RateLimiter } from './rate-limiter.ts';

/**
 * TLS settings for https:// (and s3+https://) requests, as PEM text: plain
 * data, so that worker threads get them in their store graphs.  The core
 * only carries them: the platform's fetch (src/platform/node/storage/node-tls.ts)
 * applies them.
 */
export interface TlsOptions {
  /** the CAs trusted instead of the platform's (desync's --ca-cert) */
  ca?: string;
  /** a client certificate and its key, for servers that ask for one (mutual TLS) */
  cert?: string;
  key?: string;
}

export interface HttpOptions {
  /** attempts per request, the first included (default 6) */
  attempts?: number;
  /** give up on a request after this long without a byte (default 30 s) */
  timeoutMs?: number;
  /** first backoff delay; it doubles with each retry (default 200 ms) */
  backoffMs?: number;
  /** sent as "Authorization: Bearer …" */
  token?: string;
  rateLimiter?: RateLimiter | null;
  /** the fetch to use: the platform's cheapest (Node passes one on node:http); default globalThis.fetch */
  fetch?: typeof fetch;
  /** what `fetch` was made with, kept for the store graph (HttpStore.describe) */
  tls?: TlsOptions;
  /**
   * Reads an answer that is neither a success nor retried (404 included), and
   * consumes its body: an error to fail with at once, or null to take the
   * status as usual (S3's XML errors: s3-fetch.ts).
   */
  explain?: (res: Response, url: string, method: string) => Promise<Error | null>;
}

/** Why an attempt failed, and whether another may succeed. */
class AttemptFailed extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** An answer `explain` found to be a failure no retry mends. */
class Explained extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}

const RETRY_STATUS = (s: number) => s >= 500 || s === 429 || s === 408;

export class HttpClient {
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;
  readonly fetch: typeof fetch;

  constructor(readonly o: HttpOptions = {}) {
    this.attempts = Math.max(1, o.attempts ?? 6);
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.backoffMs = o.backoffMs ?? 200;
    this.fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** The whole body of `url`, or null on 404. */
  async get(url: string): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let size = 0;
    const found = await this.stream(url, (piece) => {
      parts.push(piece);
      size += piece.length;
    });
    if (!found) return null;
    if (parts.length === 1) return parts[0];
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  }

  /**
   * Delivers the body of `url` to `onData` piece by piece, resuming after a break
   * at the byte reached; false on 404 (nothing delivered).
   */
  async stream(url: string, onData: (piece: Uint8Array) => void | Promise<void>): Promise<boolean> {
    let done = 0;
    let total: number | null = null;
    let last = '';
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.attempt(url, done, total, onData, (n) => (done += n), (t) => (total = t));
        return r;
      } catch (e) {
        if (e instanceof Explained) throw e.error;
        if (!(e instanceof AttemptFailed)) throw e;
        last = e.message;
        if (!e.retry || attempt >= this.attempts) break;
        await sleep(this.backoffMs * 2 ** (attempt - 1));
      }
    }
    throw networkError(`${url}: ${last}${this.attempts > 1 ? ` (after ${this.attempts} attempts)` : ''}`);
  }

  /** Sends a body (PUT); retried like a GET.  Returns the status. */
  async send(method: 'PUT' | 'HEAD' | 'DELETE', url: string, body?: Uint8Array): Promise<number> {
    let last = '';
    for (let attempt = 1; ; attempt++) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), this.timeoutMs);
      try {
        if (body) await this.o.rateLimiter?.take(body.length);
        const res = await this.fetch(url, { method, body: body as BodyInit | undefined, headers: this.headers(), signal: abort.signal });
        if (!(await this.explained(res, url, method))) await res.body?.cancel();
        if (!RETRY_STATUS(res.status)) return res.status;
        last = `${method} answered ${res.status} ${res.statusText}`.trim();
      } catch (e) {
        if (e instanceof Explained) throw e.error;
        if (e instanceof WasyncError) throw e; // the fetch refused (no S3 credentials): no retry mends it
        last = `${method} failed: ${describe(e, abort.signal.aborted, this.timeoutMs)}`;
      } finally {
        clearTimeout(timer);
      }
      if (attempt >= this.attempts) throw networkError(`${url}: ${last} (after ${attempt} attempts)`);
      await sleep(this.backoffMs * 2 ** (attempt - 1));
    }
  }

  /** Whether `explain` read the answer; throws (as Explained) the error it found. */
  private async explained(res: Response, url: string, method: string): Promise<boolean> {
    if (!this.o.explain || (res.status >= 200 && res.status < 300) || RETRY_STATUS(res.status)) return false;
    const error = await this.o.explain(res, url, method);
    if (error) throw new Explained(error);
    return true;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.o.token ? { ...extra, authorization: `Bearer ${this.o.token}` } : extra;
  }

  private async attempt(
    url: string,
    from: number,
    total: number | null,
    onData: (piece: Uint8Array) => void | Promise<void>,
    advance: (n: number) => void,
    setTotal: (n: number) => void,
  ): Promise<boolean> {
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(), this.timeoutMs);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), this.timeoutMs);
    };
    try {
      let res: Response;
      try {
        res = await this.fetch(url, {
          headers: this.headers(from > 0 ? { range: `bytes=${from}-` } : {}),
          signal: abort.signal,
        });
      } catch (e) {
        if (e instanceof WasyncError) throw e;
        throw new AttemptFailed(describe(e, abort.signal.aborted, this.timeoutMs), true);
      }
      const resumed = from > 0 && res.status === 206;
      const read = res.status !== 200 && !resumed && (await this.explained(res, url, 'GET'));
      if (res.status === 404 && from === 0) {
        if (!read) await res.body?.cancel();
        return false;
      }
      if (res.status !== 200 && !resumed) {
        if (!read) await res.body?.cancel();
        const what = `answered ${res.status} ${res.statusText}`.trim();
        throw new AttemptFailed(from > 0 && res.status !== 200 ? `${what} to a resumed request` : what, RETRY_STATUS(res.status));
      }
      let skip = 0;
      if (from > 0 && !resumed) skip = from; // the server sent it all again
      const length = Number(res.headers.get('content-length') ?? NaN);
      if (total === null && Number.isFinite(length)) setTotal((resumed ? from : 0) + length);
      if (!res.body) return true;
      const reader = res.body.getReader();
      let got = resumed ? from : 0;
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (e) {
          throw new AttemptFailed(`the body broke off at byte ${got}: ${describe(e, abort.signal.aborted, this.timeoutMs)}`, true);
        }
        if (next.done) break;
        touch();
        let piece = next.value;
        got += piece.length;
        if (skip) {
          const drop = Math.min(skip, piece.length);
          piece = piece.subarray(drop);
          skip -= drop;
        }
        if (!piece.length) continue;
        await this.o.rateLimiter?.take(piece.length);
        advance(piece.length);
        await onData(piece);
      }
      const expected = total ?? (Number.isFinite(length) ? length : null);
      if (expected !== null && got < expected) throw new AttemptFailed(`the body ended at byte ${got} of ${expected}`, true);
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}

function describe(e: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no data for ${timeoutMs / 1000} s`;
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  // fetch puts the system error in `cause`; node:http throws it as it is.
  const cause = err?.cause ?? (err?.code ? err : undefined);
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  if (cause?.message) return `${err.message}: ${cause.message}`;
  return err?.message ?? String(e);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
