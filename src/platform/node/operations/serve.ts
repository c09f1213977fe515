// serve(): the indexes, archives and chunk stores under a directory over HTTP
// or HTTPS (serve/chunk-server.ts), until the signal is aborted.  With
// `writable` it takes uploads, and then only with the bearer token, each
// checked as it arrives.  With `upstream` it is a caching proxy: the chunks
// the directory lacks come from those stores, checked (serve/upstream.ts),
// and are kept in `cache`.

import { mkdirSync, statSync } from 'node:fs';
import { ioError, usageError } from '../../../errors.ts';
import { classifyLocator, stripFileUrl } from '../../../stores/locator.ts';
import { chunkServer } from '../serve/chunk-server.ts';
import { DEFAULT_CHUNK_MAX } from '../serve/put.ts';
import { Upstream } from '../serve/upstream.ts';
import { LocalStore } from '../storage/local-store.ts';
import type { ChunkSizes } from '../../../chunker/sizes.ts';
import { chunkSizes } from './common.ts';
import { Network, type NetworkOptions } from './network.ts';
import { OperationStores, type StoreChoice, type StoreLike } from './stores.ts';

/** HTTPS: the server's certificate and key, and the CA client certificates must be signed by (PEM text). */
export interface ServerTls {
  cert: string;
  key: string;
  /** ask every client for a certificate signed by this CA (mutual TLS) */
  clientCa?: string;
}

export interface ServeOptions extends NetworkOptions {
  /** the directory served; may be left out with `upstream` */
  dir?: string;
  /** stores the chunks `dir` lacks are fetched from, in order (paths, URLs, ssh locations, `a|b`, objects) */
  upstream?: StoreLike[];
  /** a local directory that keeps the chunks `upstream` sent, answered from next time */
  cache?: string;
  /** the upstream stores named by path or URL are encrypted (desync's layout); what is served is plain */
  encryption?: StoreChoice['encryption'];
  /** serve HTTPS (`tls` is the client side's, for the upstream stores) */
  https?: ServerTls;
  /** HOST:PORT or PORT (default 127.0.0.1:8080; port 0 picks a free one) */
  listen?: string;
  /** accept uploads (PUT) of verified chunks, indexes and archives; needs `token` */
  writable?: boolean;
  token?: string;
  /** `[MIN:]AVG[:MAX]`: an uploaded chunk may decompress to MAX bytes at most (default 16 MiB) */
  chunkSize?: string | ChunkSizes;
  /** the built verification page, served under /_web/ */
  webRoot?: string | null;
  /** stops serving when aborted */
  signal?: AbortSignal;
  /** the server listens, at this URL */
  onListening?(url: string): void;
  /** a line per request */
  onLog?(line: string): void;
  /** an upstream chunk refused as corrupt, an upstream store that failed (default: onLog) */
  onWarning?(line: string): void;
}

export async function serve(o: ServeOptions): Promise<void> {
  const upstreams = o.upstream ?? [];
  if (o.dir === undefined && !upstreams.length) throw usageError('serve: give the directory to serve, or --upstream=STORE');
  if (o.dir !== undefined && !statSync(o.dir, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`${o.dir}: not a directory`);
  if (o.cache !== undefined && !upstreams.length) throw usageError(`--cache=${o.cache}: serve keeps a cache only of --upstream stores`);
  const { host, port } = parseListen(o.listen ?? '127.0.0.1:8080');
  if (o.writable && !o.token) throw usageError('--writable needs --token=SECRET (or $WASYNC_TOKEN): uploads must be authenticated');
  if (o.writable && o.dir === undefined) throw usageError('--writable needs the directory to write to');
  const chunkMax = o.chunkSize === undefined ? DEFAULT_CHUNK_MAX : chunkSizes(o.chunkSize).max;
  const cache = o.cache === undefined ? null : cacheDir(o.cache);
  let upstream: Upstream | null = null;
  let net: Network | null = null;
  if (upstreams.length) {
    net = new Network(o);
    const stores = new OperationStores(net);
    upstream = new Upstream({
      stores: upstreams.map((s, i) => stores.resolve(s, `upstream ${i + 1}`, o.encryption)),
      cache: cache === null ? null : new LocalStore(cache),
      concurrency: net.concurrency,
      chunkMax,
      log: o.onWarning ?? o.onLog ?? (() => {}),
    });
  }
  const server = chunkServer({
    root: o.dir ?? null,
    cache,
    upstream,
    tls: o.https,
    writable: !!o.writable,
    token: o.token ?? null,
    webRoot: o.webRoot ?? null,
    chunkMax,
    log: o.onLog,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(usageError(`--listen=${host}:${port}: ${(e as Error).message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const where = typeof addr === 'object' && addr ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : `${host}:${port}`;
  o.onListening?.(`${o.https ? 'https' : 'http'}://${where}/`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    if (o.signal?.aborted) stop();
    else o.signal?.addEventListener('abort', stop, { once: true });
  });
  await net?.close();
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw usageError(`--listen=${v}: expected HOST:PORT`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** The cache directory, made if missing (not its parents); it must be a local path. */
function cacheDir(dir: string): string {
  const path = stripFileUrl(dir);
  if (classifyLocator(path) !== 'path') throw usageError(`--cache=${dir}: serve's cache must be a local directory`);
  try {
    mkdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('EOUTPUT', path, e);
  }
  if (!statSync(path).isDirectory()) throw usageError(`--cache=${dir}: not a directory`);
  return path;
}
