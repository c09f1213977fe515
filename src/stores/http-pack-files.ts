// The pack directory of an HTTP store (<store-url>/pack/), for PackStore:
// the pack index by a plain GET (404: the store has no packs), chunks by Range
// requests on the pack files, which any static server answers (nginx,
// `wasync serve`, S3-like object servers).
//
// Several ranges go out as one request (`Range: bytes=a-b,c-d`), answered as
// multipart/byteranges (RFC 9110 §14.6) by servers that allow it; parts are
// found by their Content-Range, so their order and framing do not matter.  A
// server may also merge the ranges into one, or answer only some; what is not
// in the answer is asked for again range by range.  A server that answers
// several ranges with 200 (the whole pack) or refuses them (`wasync serve`
// answers 416) is asked one range a request from then on; one that answers a
// single range with 200 ignores Range requests, and is refused.  Attempts are
// retried as the HttpClient retries its own.  lend() reads the answers into
// buffers it reuses, for a reader that is done with the bytes within a task
// (the page's: pack-store.ts, PackStoreOptions.lent).

import { networkError } from '../errors.ts';
import { packFileName, PACK_DIR, PACK_INDEX_NAME } from '../format/pack-index.ts';
import { headers, retrying, Retry } from './http-read-at.ts';
import { HttpClient } from './http-client.ts';
import { storeBaseUrl } from './http-store.ts';
import type { PackFiles, Range } from './pack-store.ts';
import type { Semaphore } from './semaphore.ts';

export class HttpPackFiles implements PackFiles {
  readonly base: string;
  /** whether a request may hold several ranges (until the server shows it cannot) */
  private multi = true;

  /** `gate`: the store's bound on requests in flight, which pack requests share */
  constructor(
    storeUrl: string,
    private readonly client: HttpClient = new HttpClient(),
    private readonly gate?: Semaphore,
  ) {
    this.base = `${storeBaseUrl(storeUrl)}/${PACK_DIR}`;
  }

  /**
   * The pack index, or null on 404, and on 403 or 410 too: static hosts that
   * hide what they do not have (S3 without list rights) must read as a plain store.
   */
  async index(): Promise<Uint8Array | null> {
    const url = `${this.base}/${PACK_INDEX_NAME}`;
    const r = await retrying(this.client, url, 'GET', async (signal) => {
      const res = await this.client.fetch(url, { headers: headers(this.client), signal });
      if (res.status !== 200) {
        await res.body?.cancel();
        return res;
      }
      const bytes = await readBody(res, Infinity);
      await this.client.o.rateLimiter?.take(bytes.length);
      return { found: bytes };
    });
    if ('found' in r) return r.found;
    if (r.status === 404 || r.status === 403 || r.status === 410) return null;
    throw networkError(`${url}: answered ${r.status} ${r.statusText}`.trim());
  }

  async read(pack: number, ranges: readonly Range[]): Promise<Uint8Array[]> {
    return this.gather(pack, ranges, null);
  }

  /**
   * read(), the answers' bodies read into buffers kept for the next requests:
   * a browser's arrayBuffer() gives every answer fresh memory, and in the page's
   * verification workers the page faults of filling it cost more CPU time than
   * hashing the bytes.  The bytes stay valid while `use` runs and the
   * microtasks it starts (a task later, they go back to the spare buffers).
   */
  async lend(pack: number, ranges: readonly Range[], use: (bytes: Uint8Array[]) => void): Promise<void> {
    const held: Uint8Array[] = [];
    try {
      use(await this.gather(pack, ranges, held));
      await new Promise((r) => setTimeout(r, 0));
    } finally {
      this.spare.push(...held);
    }
  }

  /** Buffers for lend()'s bodies, free for the next; at most one a request in flight. */
  private readonly spare: Uint8Array[] = [];

  /** With `held`, bodies go into spare buffers, each one taken added to `held`. */
  private async gather(pack: number, ranges: readonly Range[], held: Uint8Array[] | null): Promise<Uint8Array[]> {
    const url = `${this.base}/${packFileName(pack)}`;
    const got: (Uint8Array | undefined)[] = new Array(ranges.length);
    if (ranges.length > 1 && this.multi) {
      const parts = await this.request(url, ranges, held);
      if (parts === null) this.multi = false;
      else ranges.forEach((r, i) => (got[i] = cut(parts, r)));
    }
    await Promise.all(
      ranges.map(async (r, i) => {
        if (got[i]) return;
        const parts = await this.request(url, [r], held);
        got[i] = parts ? cut(parts, r) : undefined;
        if (!got[i]) throw networkError(`${url}: GET bytes=${r.start}-${r.end - 1}: the server ignores Range requests (pack files need them)`);
      }),
    );
    return got as Uint8Array[];
  }

  /** The parts a server sends for `ranges`, or null when it answered 200 (no ranges) or refused several. */
  private async request(url: string, ranges: readonly Range[], held: Uint8Array[] | null): Promise<Part[] | null> {
    const range = `bytes=${ranges.map((r) => `${r.start}-${r.end - 1}`).join(',')}`;
    const expected = ranges.reduce((n, r) => n + r.end - r.start, 0);
    const send = () => retrying(this.client, url, `GET ${range.length > 80 ? `${range.slice(0, 77)}...` : range}`, async (signal) => {
      const res = await this.client.fetch(url, { headers: headers(this.client, { range }), signal });
      if (res.status !== 206) {
        await res.body?.cancel();
        return res;
      }
      const type = res.headers.get('content-type') ?? '';
      const boundary = /^multipart\/byteranges\s*;.*boundary=("?)([^";]+)\1/i.exec(type)?.[2];
      // Multipart framing adds a few hundred bytes a part; anything beyond that is refused.
      const limit = expected + 1024 * ranges.length + 4096;
      const body = held ? await this.readSpare(res, limit, held) : await readBody(res, limit);
      await this.client.o.rateLimiter?.take(body.length);
      if (boundary) return { parts: parseByteRanges(body, boundary) };
      const whole = contentRange(res.headers.get('content-range'));
      if (whole.end - whole.start !== body.length) throw new Retry(`the body of ${range} has ${body.length} bytes, Content-Range says ${whole.end - whole.start}`);
      return { parts: [{ ...whole, bytes: body }] };
    });
    const r = await (this.gate ? this.gate.run(send) : send());
    if ('parts' in r) return r.parts;
    // 200 is the whole pack; some servers refuse what they cannot parse (416, 400): either way, one range at a time.
    if (r.status === 200 || (ranges.length > 1 && r.status !== 404)) return null;
    if (r.status === 404) throw networkError(`${url}: not found (404), though the pack index names it`);
    throw networkError(`${url}: GET ${range}: answered ${r.status} ${r.statusText}`.trim());
  }

  /**
   * The body into a spare buffer (added to `held`): read straight into it where
   * the stream lets a reader bring its own buffer (Chromium's fetch does), else
   * piece by piece; readBody without a Content-Length.
   */
  private async readSpare(r: Response, limit: number, held: Uint8Array[]): Promise<Uint8Array> {
    const length = Number(r.headers.get('content-length') ?? NaN);
    if (!Number.isFinite(length) || !r.body) return readBody(r, limit);
    if (length > limit) throw new Retry(`an answer of ${length} bytes to a request for at most ${limit}`);
    let buffer = this.spare.pop();
    // Whole MiB and one byte more, so that one buffer serves the next answers, a little longer or shorter, and
    // a reader handing it over whole learns of the end of the stream with room to spare.
    if (!buffer || buffer.length <= length) buffer = new Uint8Array((Math.ceil((length + 1) / (1 << 20)) || 1) * (1 << 20));
    let size = 0;
    const byob = byobReader(r.body);
    if (byob) {
      for (;;) {
        const view: Uint8Array<ArrayBuffer> = new Uint8Array(buffer.buffer as ArrayBuffer, size);
        const { done, value }: ReadableStreamReadResult<Uint8Array<ArrayBuffer>> = await byob.read(view);
        // The buffer is handed to the stream and back (a new ArrayBuffer over the same memory).
        if (value) buffer = new Uint8Array(value.buffer);
        if (done) break;
        size += value.length;
        if (size > length) {
          held.push(buffer);
          await byob.cancel();
          throw new Retry(`an answer longer than its Content-Length of ${length} bytes`);
        }
      }
    } else {
      const reader = r.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (size + value.length > length) {
          await reader.cancel();
          throw new Retry(`an answer longer than its Content-Length of ${length} bytes`);
        }
        buffer.set(value, size);
        size += value.length;
      }
    }
    held.push(buffer);
    if (size !== length) throw new Retry(`the body ended at byte ${size} of ${length}`);
    return buffer.subarray(0, size);
  }
}

/** A reader that fills buffers of its caller's, where the stream offers one. */
function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | null {
  try {
    return body.getReader({ mode: 'byob' });
  } catch {
    return null;
  }
}

export interface Part extends Range {
  bytes: Uint8Array;
}

/** Range `r` out of the part that holds it, if one does. */
function cut(parts: readonly Part[], r: Range): Uint8Array | undefined {
  const p = parts.find((p) => p.start <= r.start && r.end <= p.end);
  return p?.bytes.subarray(r.start - p.start, r.end - p.start);
}

/** `Content-Range: bytes a-b/size` as [a, b+1). */
function contentRange(value: string | null): Range {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(value?.trim() ?? '');
  if (!m) throw new Retry(`a 206 answer without a usable Content-Range (${value ?? 'none'})`);
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}

/** The parts of a multipart/byteranges body: each one's Content-Range, then exactly that many bytes. */
export function parseByteRanges(body: Uint8Array, boundary: string): Part[] {
  const text = (from: number, to: number) => String.fromCharCode(...body.subarray(from, to));
  const delimiter = Uint8Array.from(`--${boundary}`, (c) => c.charCodeAt(0));
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    at = indexOf(body, delimiter, at);
    if (at < 0) throw new Retry(`a multipart answer that does not end with its closing boundary`);
    at += delimiter.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts; // "--": the closing delimiter
    const head = indexOf(body, CRLF2, at);
    if (head < 0) throw new Retry(`a multipart part without the end of its headers`);
    const range = /^content-range:(.*)$/im.exec(text(at, head))?.[1] ?? null;
    const r = contentRange(range);
    const start = head + CRLF2.length;
    if (start + r.end - r.start > body.length) throw new Retry(`a multipart part broken off`);
    parts.push({ ...r, bytes: body.subarray(start, start + r.end - r.start) });
    at = start + r.end - r.start;
  }
}

const CRLF2 = Uint8Array.of(13, 10, 13, 10);

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  for (let i = hay.indexOf(first, from); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/** The body through its stream, refused beyond `limit` bytes. */
async function readBody(r: Response, limit: number): Promise<Uint8Array> {
  const length = Number(r.headers.get('content-length') ?? NaN);
  if (length > limit) throw new Retry(`an answer of ${length} bytes to a request for at most ${limit}`);
  // A browser's arrayBuffer() is one copy out of its network process, where a stream
  // reader costs a promise a piece; it is bounded here by the Content-Length checked.
  if (Number.isFinite(length) && typeof r.arrayBuffer === 'function') {
    const whole = new Uint8Array(await r.arrayBuffer());
    if (whole.length !== length) throw new Retry(`the body ended at byte ${whole.length} of ${length}`);
    return whole;
  }
  const pieces: Uint8Array[] = [];
  let size = 0;
  const reader = r.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) throw new Retry(`an answer longer than the ${limit} bytes asked for`);
    pieces.push(value);
  }
  if (Number.isFinite(length) && size !== length) throw new Retry(`the body ended at byte ${size} of ${length}`);
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
