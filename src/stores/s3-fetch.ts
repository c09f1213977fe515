// S3 as a transport under HttpClient: a fetch that takes `s3+http(s)://`
// locators (s3-location.ts), turns them into the bucket's plain URLs and signs
// each request with Signature V4 (aws4fetch, which runs wherever WebCrypto
// does), and passes every other URL on unchanged.  Because it sits under the
// client, S3 requests get the client's retries, backoff, resumption and rate
// limit, and every reader of a URL (indexes, archives, random access, uploads)
// reads S3 as well.  `s3Explain` reads S3's XML error answers, so that a wrong
// secret, a denied request or a missing bucket is one line naming bucket and
// key rather than "403", and a missing bucket is not taken for a missing chunk.

import { networkError } from '../errors.ts';
import { isS3Locator, parseS3Locator, s3HttpUrl, s3Where } from './s3-location.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** default us-east-1 */
  region?: string;
}

/** aws4fetch, loaded with the first S3 request (not by every thread at start), once. */
let signing: Promise<typeof import('aws4fetch')> | undefined;

/**
 * `base` with s3+ locators signed by `credentials` of their endpoint
 * (`http(s)://host[:port]`), asked for at the endpoint's first request.
 */
export function s3Fetch(base: typeof fetch, credentials: (endpoint: string) => S3Credentials): typeof fetch {
  const known = new Map<string, S3Credentials>();
  const cache = new Map<string, ArrayBuffer>();
  return (async (input: string | URL, init: RequestInit = {}) => {
    const loc = String(input);
    if (!isS3Locator(loc)) return base(input, init);
    const l = parseS3Locator(loc);
    let creds = known.get(l.endpoint);
    if (!creds) known.set(l.endpoint, (creds = credentials(l.endpoint)));
    const url = s3HttpUrl(l);
    const headers = { ...((init.headers as Record<string, string> | undefined) ?? {}) };
    delete headers.authorization; // a --token is for wasync's own servers
    const { AwsV4Signer } = await (signing ??= import('aws4fetch'));
    const signed = await new AwsV4Signer({
      method: init.method ?? 'GET',
      url,
      headers,
      body: init.body,
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      service: 's3',
      region: creds.region || 'us-east-1',
      cache,
    }).sign();
    const out: Record<string, string> = {};
    signed.headers.forEach((v, k) => (out[k] = v));
    return base(url, { method: init.method, headers: out, body: init.body, signal: init.signal });
  }) as typeof fetch;
}

/** What S3's error codes mean to the user. */
const HINTS: Record<string, string> = {
  SignatureDoesNotMatch: 'the secret key does not match the access key (S3_SECRET_KEY)',
  InvalidAccessKeyId: 'the access key is not known to the server (S3_ACCESS_KEY)',
  AccessDenied: 'the credentials may not do this',
  NoSuchBucket: 'the bucket does not exist',
  InvalidBucketName: 'not a valid bucket name',
};

/**
 * For HttpClient's `explain`: an error for an S3 answer that is not simply
 * "no such key", read from its XML body (which it consumes); null otherwise.
 */
export async function s3Explain(res: Response, url: string, method: string): Promise<Error | null> {
  if (!isS3Locator(url)) {
    await res.body?.cancel();
    return null;
  }
  const body = await readSome(res);
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? '';
  if (res.status === 404 && (code === 'NoSuchKey' || code === '')) return null;
  const l = parseS3Locator(url);
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  const what = code ? `${code}${HINTS[code] ? ` (${HINTS[code]})` : message ? ` (${message})` : ''}` : `${res.status} ${res.statusText}`.trim();
  const status = code ? ` [${res.status}]` : res.status === 403 ? ' (access denied or a wrong signature: check S3_ACCESS_KEY and S3_SECRET_KEY)' : '';
  return networkError(`S3 ${s3Where(l)} at ${l.endpoint}: ${method} failed: ${what}${status}`);
}

/** The body as text (error answers are small), read to its end so the connection can be kept. */
async function readSome(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    if (size < 16384) parts.push(r.value);
    size += r.value.length;
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  return new TextDecoder().decode(all);
}
