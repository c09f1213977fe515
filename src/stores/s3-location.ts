// desync's S3 locators, so that one bucket serves both tools:
// `s3+http(s)://host[:port]/bucket[/prefix]?lookup=path|dns|auto`.  The first
// path segment is the bucket, the rest a key (an index, an archive) or the
// prefix of a chunk store, whose chunks are `<prefix>/<4hex>/<id>.cacnk` as in
// desync's s3.go.  `lookup` says how the bucket is addressed: in the path
// (`http://host/bucket/key`, what most servers besides AWS want), in the host
// name (`http://bucket.host/key`), or `auto`: by host name on AWS only.

import { usageError } from '../errors.ts';

export type S3Lookup = 'path' | 'dns' | 'auto';

export interface S3Location {
  /** `http://host:port` or `https://…` */
  endpoint: string;
  bucket: string;
  /** the rest of the path, without slashes at either end ('' for none) */
  key: string;
  lookup: S3Lookup;
  /** the query without `lookup` ('' or `a=b&…`) */
  query: string;
}

export const isS3Locator = (loc: string) => /^s3\+https?:\/\//i.test(loc);

/** `loc` taken apart; a locator without a bucket, or with an unknown lookup, is refused. */
export function parseS3Locator(loc: string): S3Location {
  const m = /^s3\+(https?):\/\/([^/?#]+)([^?#]*)(?:\?([^#]*))?$/i.exec(loc);
  if (!m) throw usageError(`${loc}: not an S3 locator (s3+http(s)://host[:port]/bucket[/prefix])`);
  const [, scheme, host, path, q = ''] = m;
  const parts = path.split('/').filter((p) => p !== '');
  if (!parts.length) throw usageError(`${loc}: no bucket named (s3+http(s)://host[:port]/bucket[/prefix])`);
  let lookup: S3Lookup = 'auto';
  const rest: string[] = [];
  for (const pair of q.split('&').filter(Boolean)) {
    if (pair.startsWith('lookup=')) {
      const v = pair.slice('lookup='.length);
      if (v !== 'path' && v !== 'dns' && v !== 'auto') throw usageError(`${loc}: lookup=${v}: expected path, dns or auto`);
      lookup = v;
    } else rest.push(pair);
  }
  return { endpoint: `${scheme.toLowerCase()}://${host}`, bucket: decodeURIComponent(parts[0]), key: parts.slice(1).join('/'), lookup, query: rest.join('&') };
}

/** Whether the bucket goes in the host name. */
const byDns = (l: S3Location) => l.lookup === 'dns' || (l.lookup === 'auto' && /(^|\.)amazonaws\.com(:\d+)?$/i.test(new URL(l.endpoint).host));

/** The plain HTTP(S) URL of `key` in the bucket (`key` '' names the bucket), with `query` when given. */
export function s3HttpUrl(l: S3Location, key = l.key, query = l.query): string {
  const path = key
    .split('/')
    .map((p) => encodeURIComponent(decodeURIComponent(p)))
    .join('/');
  const q = query ? `?${query}` : '';
  if (byDns(l)) {
    const u = new URL(l.endpoint);
    return `${u.protocol}//${encodeURIComponent(l.bucket)}.${u.host}/${path}${q}`;
  }
  return `${l.endpoint}/${encodeURIComponent(l.bucket)}${key ? `/${path}` : ''}${q}`;
}

/** An s3+ locator of `key` in the same bucket and endpoint, `lookup` kept. */
export function s3Locator(l: S3Location, key: string, query = ''): string {
  const args = [...(l.lookup === 'auto' ? [] : [`lookup=${l.lookup}`]), ...(query ? [query] : [])].join('&');
  return `s3+${l.endpoint}/${l.bucket}${key ? `/${key}` : ''}${args ? `?${args}` : ''}`;
}

/** How messages name an object: `bucket B, key K`. */
export const s3Where = (l: S3Location, key = l.key) => `bucket ${l.bucket}${key ? `, key ${key}` : ''}`;
